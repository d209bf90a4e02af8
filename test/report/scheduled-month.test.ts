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

test("a report job run after its month ended still reports the month before its scheduled time", async () => {
  // No recipients: the run fails at once, and the alert names the month it was for.
  const config = parseConfigText(
    [
      `queuePrefix: ${prefix}`,
      "timezone: Europe/Paris",
      `destinations: { local: { type: filesystem, path: ${dir} } }`,
      "targets:",
      `  share: { type: files, path: ${dir}, destinations: [local] }`,
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
        {
          logger: silentLogger,
          signal: new AbortController().signal,
          onProgress: () => undefined,
          reportProgress: () => undefined,
          job: {
            id: `repeat:report:monthly:${Date.parse(scheduledAt)}`,
            queue: "report",
            attempt: 1,
            maxAttempts: 4,
            schedulerId: "report:monthly",
            scheduledAt,
          },
        },
      ),
    ).rejects.toThrow(/no recipients/);
    const [failed] = await monitor.incidents.openIncidents();
    expect(failed?.event.details?.month).toBe("2026-06");
  } finally {
    await monitor.close();
  }
});
