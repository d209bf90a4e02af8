/**
 * Delivery of the monthly report to a real SMTP server: temporary refusals are retried with backoff,
 * exhausted retries raise a TRANSIENT HavenError (the job layer retries and alerts), a refused login
 * is PERMANENT and never echoes the password, and the JSON is stored before the email goes out.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { layout } from "../../src/catalog/layout";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { HavenError } from "../../src/lib/errors";
import { createLogger, silentLogger, type Logger } from "../../src/lib/logger";
import { LogSink } from "../storage/streams";
import { runMonthlyReport, undeliveredError } from "../../src/report";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";
import { startReceiver, type ReportSmtpReceiver } from "./smtp";

const NOW = new Date("2026-11-01T07:00:00Z");
const SMTP = { user: "haven", password: `pw-${Math.random().toString(36).slice(2)}` };

let dir: string;
let storage: StorageBackend;
let receiver: ReportSmtpReceiver | undefined;

function config(port: number, password = SMTP.password, to = ["it-manager@example.com"]): HavenConfig {
  return parseConfigText(
    `
destinations:
  primary: { type: filesystem, path: ${join(dir, "primary")} }
defaults:
  destinations: [primary]
targets:
  app:
    type: files
    path: /srv/app
    schedule: { daily: "0 2 * * *" }
alerts:
  email:
    smtp: { host: 127.0.0.1, port: ${port}, user: ${SMTP.user}, password: "${password}", tls: { enabled: true, rejectUnauthorized: false } }
    from: haven@example.com
    to: [ops@example.com]
reports:
  monthly: { to: [${to.join(", ")}] }
`,
    "<delivery-test>",
    {},
  );
}

const run = (cfg: HavenConfig, logger: Logger = silentLogger) =>
  runMonthlyReport(
    cfg,
    { month: "2026-10", send: true },
    {
      logger,
      now: NOW,
      storages: [storage],
      delivery: { attempts: 3, baseDelayMs: 10, timeoutMs: 5000 },
    },
  );

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-report-delivery-"));
  await mkdir(join(dir, "primary")); // the destination's root: Haven never creates it
  storage = createFilesystemBackend({ name: "primary", path: join(dir, "primary"), prefix: "" });
});

afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

test("temporary refusals are retried and the third attempt delivers", async () => {
  receiver = await startReceiver({ ...SMTP, refuseFirst: 2 });
  const result = await run(config(receiver.port));
  expect(result.sent?.attempts).toBe(3);
  expect(receiver.attempts).toBe(3);
  expect(receiver.messages).toHaveLength(1);
  expect(receiver.messages[0]?.subject).toBe("Haven report 2026-10: no backups recorded");
});

test("when every attempt is refused the run fails TRANSIENT, after storing the JSON", async () => {
  receiver = await startReceiver({ ...SMTP, refuseFirst: Number.POSITIVE_INFINITY });
  const error = await run(config(receiver.port)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HavenError);
  expect((error as HavenError).code).toBe("TRANSIENT");
  expect((error as HavenError).message).toMatch(/failed 3 time\(s\).*try again later/);
  expect(receiver.attempts).toBe(3);
  expect(receiver.messages).toHaveLength(0);
  expect(await storage.stat(layout.report("2026-10"))).not.toBeNull();
});

test("a refused login is PERMANENT, not retried, and the password is not in the message", async () => {
  receiver = await startReceiver(SMTP);
  const wrong = `wrong-${SMTP.password}`;
  const error = await run(config(receiver.port, wrong)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HavenError);
  expect((error as HavenError).code).toBe("PERMANENT");
  expect((error as HavenError).hint).toMatch(/alerts\.email/);
  expect((error as HavenError).message).not.toContain(wrong);
  expect(receiver.attempts).toBe(0);
});

test("an unreachable SMTP server is retried, then TRANSIENT", async () => {
  // A port that was just free: nothing listens on it.
  const probe = await startReceiver(SMTP);
  const port = probe.port;
  await probe.close();
  const error = await run(config(port)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HavenError);
  expect((error as HavenError).code).toBe("TRANSIENT");
  expect((error as HavenError).message).toMatch(/failed 3 time\(s\)/);
});

test("sending without reports.monthly.to is a CONFIG error before the bucket is read", async () => {
  const cfg = config(25);
  delete cfg.reports;
  const error = await run(cfg).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HavenError);
  expect((error as HavenError).code).toBe("CONFIG");
  expect((error as HavenError).hint).toMatch(/reports\.monthly\.to/);
  expect(await storage.stat(layout.report("2026-10"))).toBeNull();
});

describe("a recipient list the SMTP server accepts only in part", () => {
  const readers = ["it-manager@example.com", "cio@example.com"];

  test("a refused mailbox is reported as not delivered, the others get the report once", async () => {
    receiver = await startReceiver({ ...SMTP, refuseRecipients: { "cio@example.com": { code: 550 } } });
    const logs = new LogSink();
    const result = await run(
      config(receiver.port, SMTP.password, readers),
      createLogger({ level: "error", destination: logs }),
    );
    expect(result.sent?.to).toEqual(["it-manager@example.com"]);
    expect(result.sent?.refused).toEqual([
      expect.objectContaining({ address: "cio@example.com", permanent: true }),
    ]);
    expect(result.sent?.refused[0]?.reason).toMatch(/550.*refused/);
    // A 550 fails the same way again: not retried, and the reader who has it is not sent it twice.
    expect(receiver.recipients).toEqual([["it-manager@example.com"]]);
    const undelivered = undeliveredError(result.sent!, "2026-10");
    expect(undelivered?.message).toMatch(
      /sent to it-manager@example\.com but not delivered to cio@example\.com \(550/,
    );
    expect(undelivered?.hint).toMatch(/reports\.monthly\.to/);
    // The job's log says what to do next, not only what happened.
    expect(logs.lines).toEqual([
      expect.objectContaining({
        msg: "monthly report not delivered to everyone",
        hint: expect.stringContaining("haven report --send --month 2026-10"),
      }),
    ]);
  });

  test("a deferred mailbox is retried alone, and gets the report on the next attempt", async () => {
    receiver = await startReceiver({
      ...SMTP,
      refuseRecipients: { "cio@example.com": { code: 451, times: 1 } },
    });
    const result = await run(config(receiver.port, SMTP.password, readers));
    expect(receiver.recipients).toEqual([["it-manager@example.com"], ["cio@example.com"]]);
    expect(result.sent).toMatchObject({ to: readers, refused: [], attempts: 2 });
    expect(undeliveredError(result.sent!, "2026-10")).toBeNull();
  });

  test("a mailbox still deferred after the last attempt is reported as not delivered", async () => {
    receiver = await startReceiver({ ...SMTP, refuseRecipients: { "cio@example.com": { code: 451 } } });
    const result = await run(config(receiver.port, SMTP.password, readers));
    expect(receiver.recipients).toEqual([["it-manager@example.com"]]);
    expect(result.sent).toMatchObject({ to: ["it-manager@example.com"], attempts: 3 });
    expect(result.sent?.refused).toEqual([
      expect.objectContaining({ address: "cio@example.com", permanent: false }),
    ]);
  });
});
