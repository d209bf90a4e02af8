/**
 * CLI commands that run in their own process but must still respect "one run of a target at a time":
 * when the workers' Redis answers, they take the same target lock the workers take. When Redis does
 * not answer (a disaster, a laptop with only the bucket), they go ahead without it, with a warning:
 * refusing would block the one backup or restore the operator can still run.
 */
import type { HavenConfig } from "../../config/types";
import type { BackupResult } from "../../engine/types";
import { isHavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import { skippedBackup } from "../../jobs/skipped";
import { auditLockRedis } from "../audit-lock";

/**
 * Runs `run` under the target's lock when Redis answers (a held lock throws LOCKED, exit 11), or
 * without it after logging `withoutIt`. `run` gets the lock's signal, aborted if the lock is lost.
 * The command's one Redis connection (cli/audit-lock.ts) serves: its audit appends need it too, and
 * a second connection meant a second wait and a second warning when Redis is down.
 */
async function withTargetLockIfUp<T>(
  config: HavenConfig,
  target: string,
  logger: Logger,
  withoutIt: string,
  run: (lockSignal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const { withTargetLock } = await import("../../jobs/lock");
  const redis = await auditLockRedis(config, logger);
  if (!redis) {
    logger.warn({ target }, `Redis does not answer: ${withoutIt}`);
    return run(undefined);
  }
  return withTargetLock(redis, target, config.workers.lockTtl, (signal) => run(signal), {
    prefix: config.queuePrefix,
    logger,
  });
}

/** `haven backup --direct`: a held lock makes the run `skipped` (exit 11), like a queued run. */
export async function withDirectBackupLock(
  config: HavenConfig,
  target: string,
  logger: Logger,
  run: (lockSignal: AbortSignal | undefined) => Promise<BackupResult>,
): Promise<BackupResult> {
  const startedAt = new Date();
  try {
    return await withTargetLockIfUp(
      config,
      target,
      logger,
      "this direct backup runs without the target lock (a scheduled backup of the same target may run at the same time)",
      run,
    );
  } catch (error) {
    if (isHavenError(error, "LOCKED")) return skippedBackup(target, error, startedAt);
    throw error;
  }
}

/**
 * A restore over the target's own data holds the target's lock for its whole run: a scheduled
 * backup meanwhile would archive a half-restored tree (or dump a half-loaded database) as a good
 * snapshot, and a restore started during a backup would write under it. A held lock refuses the
 * restore (LOCKED, exit 11) before anything is written. A lock lost mid-restore (Redis gone) does not
 * stop it: the data half written is worse than a backup that may overlap.
 */
export function withInPlaceRestoreLock<T>(
  config: HavenConfig,
  target: string,
  logger: Logger,
  run: () => Promise<T>,
): Promise<T> {
  return withTargetLockIfUp(
    config,
    target,
    logger,
    "this restore runs without the target lock (a scheduled backup of the same target may run at the same time and archive a half-restored state)",
    () => run(),
  );
}
