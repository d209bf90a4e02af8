/**
 * The email channel's reply codes, against a real SMTP server (smtp-server): a 4xx reply (greylisting's
 * 451 at RCPT TO, a 451 after DATA) means "try again later" and is retried with `deliver`'s backoff
 * until accepted; a 5xx reply is permanent and is not retried.
 */
import { randomBytes } from "node:crypto";
import { createEmailChannel } from "../../src/alerts/channels/email";
import { deliver } from "../../src/alerts/deliver";
import type { Notice } from "../../src/alerts/message";
import type { AlertsConfig } from "../../src/config/types";
import { Secret } from "../../src/lib/secret";
import type { Logger } from "../../src/lib/logger";
import { captureLogger, startSmtpReceiver, type SmtpReceiver, type SmtpRefusal } from "./receivers";

const password = `pw-${randomBytes(8).toString("hex")}`;
const receivers: SmtpReceiver[] = [];

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

function emailConfig(port: number, to = ["ops@example.com"]): NonNullable<AlertsConfig["email"]> {
  return {
    smtp: {
      host: "127.0.0.1",
      port,
      secure: false,
      user: "haven",
      password: new Secret(password),
      // STARTTLS is required; the receiver's built-in certificate is self-signed.
      tls: { enabled: true, rejectUnauthorized: false },
    },
    from: "haven@example.com",
    to,
  };
}

const at = new Date("2026-11-22T12:00:00Z");
const notice: Notice = {
  kind: "opened",
  key: "rpo-breached:orders-db",
  event: { type: "rpo-breached", target: "orders-db", since: at.toISOString(), summary: "no backup for 27h" },
  since: at,
  openedAt: at,
  at,
};

/** Delivers one notice through a fresh receiver that refuses as told; fast backoff, four attempts. */
async function deliverThrough(refuse: SmtpRefusal, to?: string[], logger?: Logger) {
  const smtp = await startSmtpReceiver({ user: "haven", password, refuse });
  receivers.push(smtp);
  const channel = createEmailChannel(emailConfig(smtp.port, to), {
    timeoutMs: 5_000,
    deferredDelayMs: 20,
    ...(logger ? { logger } : {}),
  });
  try {
    const [report] = await deliver([channel], notice, { attempts: 4, baseDelayMs: 20 });
    return { report, smtp };
  } finally {
    await channel.close();
  }
}

test("a 451 at RCPT TO (greylisting) is temporary: retried with backoff until the server accepts", async () => {
  const { report, smtp } = await deliverThrough({ at: "rcpt", code: 451, first: 2 });
  expect(report).toEqual({ channel: "email", ok: true, attempts: 3 });
  expect(smtp.recipientsOffered).toBe(3);
  expect(smtp.messages).toHaveLength(1);
  expect(smtp.messages[0]?.subject).toContain("orders-db");
});

test("a 451 after the message (DATA) is temporary too: retried until accepted", async () => {
  const { report, smtp } = await deliverThrough({ at: "data", code: 451, first: 1 });
  expect(report).toEqual({ channel: "email", ok: true, attempts: 2 });
  expect(smtp.messages).toHaveLength(1);
});

test("a 550 at RCPT TO is permanent: one attempt, reported failed, not retried", async () => {
  const { report, smtp } = await deliverThrough({ at: "rcpt", code: 550, first: Infinity });
  expect(report).toMatchObject({ channel: "email", ok: false, attempts: 1 });
  expect(report?.error).toMatch(/550/);
  expect(smtp.recipientsOffered).toBe(1);
  expect(smtp.messages).toHaveLength(0);
});

describe("a recipient list the server accepts only in part", () => {
  /** ops and oncall, the server refusing oncall `first` times with `code`; what was logged too. */
  async function refusingOncall(code: number, first: number) {
    const { logger, text } = captureLogger();
    const to = ["ops@example.com", "oncall@example.com"];
    const sent = await deliverThrough({ at: "rcpt", code, first, only: "oncall@example.com" }, to, logger);
    // One delivery whatever oncall's fate: a retry of the whole notice would reach ops again.
    expect(sent.report).toEqual({ channel: "email", ok: true, attempts: 1 });
    return { ...sent, logged: text() };
  }

  test("a recipient greylisted while the other accepts is retried alone until it has the alert", async () => {
    const { smtp } = await refusingOncall(451, 2);
    expect(smtp.recipients).toEqual([["ops@example.com"], ["oncall@example.com"]]);
  });

  test("a recipient still deferred after the channel's tries is logged; the others are not sent it again", async () => {
    const { smtp, logged } = await refusingOncall(452, Infinity);
    expect(smtp.recipients).toEqual([["ops@example.com"]]);
    expect(smtp.recipientsOffered).toBe(4); // ops and oncall, then oncall twice more
    expect(logged).toMatch(/oncall@example\.com \(452/);
  });

  test("a recipient refused for good is logged by address, the others have the alert once", async () => {
    const { smtp, logged } = await refusingOncall(550, Infinity);
    expect(smtp.recipients).toEqual([["ops@example.com"]]);
    expect(logged).toMatch(/oncall@example\.com \(550/);
    expect(logged).toMatch(/alerts\.email\.to/);
    expect(logged).not.toContain(password);
  });
});
