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
import { connectRedisIfUp } from "../redis-if-up";

export async function withDirectBackupLock(
  config: HavenConfig,
  target: string,
  logger: Logger,
  run: (lockSignal: AbortSignal | undefined) => Promise<BackupResult>,
): Promise<BackupResult> {
  const { withTargetLock } = await import("../../jobs/lock");
  const startedAt = new Date();
  const redis = await connectRedisIfUp(config, logger, {
    connectionName: "haven-cli-direct",
    context: { target },
    withoutIt:
      "this direct backup runs without the target lock (a scheduled backup of the same target may run at the same time)",
  });
  if (!redis) return run(undefined);
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
