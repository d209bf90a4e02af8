/**
 * `haven backup --direct` runs in the CLI's own process, but it must still respect "one backup of a
 * target at a time": when the workers' Redis answers, the run takes the same target lock they take,
 * and a held lock makes it `skipped` (exit 11) like a queued run. When Redis does not answer (a
 * disaster, a laptop with only the bucket), the run goes ahead without the lock, with a warning:
 * refusing would block the one backup the operator can still take.
 */
import type { HavenConfig } from "../../config/types";
import type { BackupResult } from "../../engine/types";
import { isHavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import { skippedBackup } from "../../jobs/skipped";

/** How long a direct backup waits for Redis before it runs without the lock. */
const REDIS_WAIT_MS = 2000;

export async function withDirectBackupLock(
  config: HavenConfig,
  target: string,
  logger: Logger,
  run: (lockSignal: AbortSignal | undefined) => Promise<BackupResult>,
): Promise<BackupResult> {
  // Not the jobs index: that loads BullMQ, which a direct backup does not need.
  const [{ connectRedis }, { withTargetLock }] = await Promise.all([
    import("../../jobs/connection"),
    import("../../jobs/lock"),
  ]);
  const startedAt = new Date();
  let redis;
  try {
    redis = await connectRedis(config.redis, {
      role: "client",
      logger,
      connectTimeoutMs: REDIS_WAIT_MS,
      connectionName: "haven-cli-direct",
    });
  } catch (error) {
    logger.warn(
      { target, err: error instanceof Error ? error.message : String(error) },
      "Redis does not answer: this direct backup runs without the target lock (a scheduled backup of the same target may run at the same time)",
    );
    return run(undefined);
  }
  try {
    return await withTargetLock(redis, target, config.workers.lockTtl, (signal) => run(signal), {
      prefix: config.queuePrefix,
      logger,
    });
  } catch (error) {
    if (isHavenError(error, "LOCKED")) return skippedBackup(target, error, startedAt);
    throw error;
  } finally {
    redis.disconnect();
  }
}
