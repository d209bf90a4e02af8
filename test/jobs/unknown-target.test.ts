/**
 * A job for a target this worker's config lacks (serve's newer config added or renamed it, and this
 * worker is not restarted yet) is retried, so another worker can run it, instead of failing for good.
 */
import type { Redis } from "ioredis";
import { Monitor } from "../../src/app/monitoring";
import { createProcessors } from "../../src/app/processors";
import { isRetryable } from "../../src/jobs/failures";
import { silentLogger } from "../../src/lib/logger";
import { testConfig, uniquePrefix } from "./helpers/config";
import { connectTestRedis } from "./helpers/redis";

let redis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  await redis.quit();
});

const ctx = (queue: "backup" | "verify") => ({
  logger: silentLogger,
  signal: new AbortController().signal,
  onProgress: () => undefined,
  reportProgress: () => undefined,
  job: { id: `repeat:${queue}:added:1`, queue, attempt: 1, maxAttempts: 4 },
});

test("backup and verify jobs for a target the worker's config lacks are retryable", async () => {
  const config = { ...testConfig({ targets: { old: {} } }), queuePrefix: uniquePrefix("unknown-target") };
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    const processors = createProcessors(config, monitor, redis);
    const backup = processors.backup(
      { target: "added", tier: "daily", requestedBy: "scheduler" },
      ctx("backup"),
    );
    const verify = processors.verify!({ target: "added", requestedBy: "scheduler" }, ctx("verify"));
    for (const run of [backup, verify]) {
      const error: unknown = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ message: expect.stringContaining('no target "added"') });
      expect(isRetryable(error)).toBe(true);
    }
  } finally {
    await monitor.close();
  }
});
