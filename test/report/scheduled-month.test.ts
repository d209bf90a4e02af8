/**
 * The scheduled report covers the month before the one its job was scheduled in, whenever a worker
 * runs it: a job taken late, or by a worker whose clock lags the one that released it at midnight,
 * must not report another month (one month twice, the other never).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { Monitor } from "../../src/app/monitoring";
import { createProcessors } from "../../src/app/processors";
import { parseConfigText } from "../../src/config/load";
import { silentLogger } from "../../src/lib/logger";
import { uniquePrefix } from "../jobs/helpers/config";
import { connectTestRedis, deleteKeys } from "../jobs/helpers/redis";
import { startReceiver } from "./smtp";

const prefix = uniquePrefix("report-month");
let redis: Redis;
let dir: string;

beforeAll(async () => {
  redis = await connectTestRedis();
  dir = await mkdtemp(join(tmpdir(), "haven-report-month-"));
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

/** The context a worker gives the report job scheduled at `scheduledAt`. */
function jobContext(scheduledAt: string) {
  return {
    logger: silentLogger,
    signal: new AbortController().signal,
    onProgress: () => undefined,
    reportProgress: () => undefined,
    job: {
      id: `repeat:report:monthly:${Date.parse(scheduledAt)}`,
      queue: "report" as const,
      attempt: 1,
      maxAttempts: 4,
      schedulerId: "report:monthly",
      scheduledAt,
    },
  };
}

test("a report job run after its month ended still reports the month before its scheduled time", async () => {
  // No recipients: the run fails at once, and the alert names the month it was for.
  const config = parseConfigText(
    [
      `queuePrefix: ${prefix}`,
      "timezone: Europe/Paris",
      `destinations: { local: { type: filesystem, path: ${dir} } }`,
      "targets:",
      `  share: { type: files, path: ${join(dir, "share")}, destinations: [local] }`,
    ].join("\n"),
    "<report-month-test>",
  );
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    // Midnight of 1 July in Paris; the job runs whenever a worker takes it.
    const scheduledAt = "2026-06-30T22:00:00.000Z";
    await expect(
      createProcessors(config, monitor, redis).report!(
        { kind: "monthly", requestedBy: "scheduler" },
        jobContext(scheduledAt),
      ),
    ).rejects.toThrow(/no recipients/);
    const [failed] = await monitor.incidents.openIncidents();
    expect(failed?.event.details?.month).toBe("2026-06");
  } finally {
    await monitor.close();
  }
});

test("a report some recipients were refused raises report-failed naming them, without failing the job", async () => {
  const smtp = { user: "haven", password: `pw-${Math.random().toString(36).slice(2)}` };
  const receiver = await startReceiver({ ...smtp, refuseRecipients: { "cio@example.com": { code: 550 } } });
  const config = parseConfigText(
    [
      `queuePrefix: ${prefix}-refused`,
      "timezone: Europe/Paris",
      `destinations: { local: { type: filesystem, path: ${dir} } }`,
      "targets:",
      `  share: { type: files, path: ${join(dir, "share")}, destinations: [local] }`,
      "alerts:",
      "  email:",
      `    smtp: { host: 127.0.0.1, port: ${receiver.port}, user: ${smtp.user}, password: "${smtp.password}", tls: { enabled: true, rejectUnauthorized: false } }`,
      "    from: haven@example.com",
      "    to: [ops@example.com]",
      "reports:",
      "  monthly: { to: [it-manager@example.com, cio@example.com] }",
    ].join("\n"),
    "<report-refused-test>",
  );
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    // A failed job would be retried, and the readers who have the report would get it again.
    await createProcessors(config, monitor, redis).report!(
      { kind: "monthly", requestedBy: "scheduler" },
      jobContext("2026-06-30T22:00:00.000Z"),
    );
    const [failed] = await monitor.incidents.openIncidents();
    expect(failed?.key).toBe("report-failed:-");
    expect(failed?.event.details?.month).toBe("2026-06");
    expect(failed?.event.summary).toMatch(/not delivered to cio@example\.com \(550/);
    // The report went once, to the reader the server accepted; the alert went to ops.
    const reports = receiver.recipients.filter((_, i) =>
      receiver.messages[i]?.subject?.startsWith("Haven report"),
    );
    expect(reports).toEqual([["it-manager@example.com"]]);
  } finally {
    await monitor.close();
    await deleteKeys(redis, `${prefix}-refused`);
    await receiver.close();
  }
});
