/**
 * Executes a prune of one target on one destination, under the target's lock: the plan is made
 * inside the lock (so no backup or other prune of the target changes the destination meanwhile),
 * then each approved snapshot is removed whole (manifest, data, verification records) unless Object
 * Lock still holds one of its objects.
 */
import type { Logger } from "pino";
import type { HavenConfig } from "../config/types";
import { HavenError, isHavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import { refusalError, type PruneRefused } from "../retention";
import type { StorageBackend } from "../storage/types";
import { lockJson, lockedReason } from "./locks";
import { prunePlan, type TargetPrunePlan } from "./plan";
import { RemovalError, removeSnapshot, type PruneFailure } from "./remove";

/**
 * Runs `fn` while holding the lock of `target`; the signal is aborted if the lock is lost. The jobs
 * layer passes `(t, fn) => withTargetLock(redis, t, config.workers.lockTtl, fn, { prefix })`.
 */
export type WithLock = <T>(target: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;

export interface ExecutePruneOptions {
  withLock: WithLock;
  /** The instant retention decides for and locks are compared with. Default: the clock, once. */
  now?: Date;
  logger?: Logger;
  /** Opens another destination of the target, to see the copies it still needs (see prunePlan). */
  openDestination?: (name: string) => StorageBackend;
}

/** What a prune run did for one target on one destination. */
export interface PruneOutcome {
  readonly plan: TargetPrunePlan;
  /** Snapshots removed whole, newest first. */
  readonly removed: readonly string[];
  /** Snapshots that could not be removed (see PruneFailure.stage for what is left). */
  readonly failed: readonly PruneFailure[];
}

/**
 * A guard rail refused the run: nothing was removed. Code REFUSED (not retried); `refusal` and `plan`
 * carry what an alert needs (how many of how many, and every decision).
 */
export class PruneRefusedError extends HavenError {
  readonly refusal: PruneRefused;
  readonly plan: TargetPrunePlan;

  constructor(refusal: PruneRefused, plan: TargetPrunePlan) {
    const base = refusalError(refusal);
    super(base.code, base.message, { hint: base.hint, exitCode: base.exitCode });
    this.name = "PruneRefusedError";
    this.refusal = refusal;
    this.plan = plan;
  }
}

/**
 * Prunes `target` on `storage`. Throws PruneRefusedError when a guard rail refuses (nothing removed),
 * LOCKED when another run holds the target, and what reading the destination throws. A snapshot that
 * fails to be removed is reported in `failed`; the run goes on with the others, except after a
 * TRANSIENT failure (the destination is in trouble: the run stops, and is tried again later).
 */
export async function executePrune(
  config: HavenConfig,
  storage: StorageBackend,
  target: string,
  options: ExecutePruneOptions,
): Promise<PruneOutcome> {
  const now = options.now ?? new Date();
  const logger = (options.logger ?? silentLogger).child({ target, destination: storage.name });
  return options.withLock(target, async (signal) => {
    const plan = await prunePlan(config, storage, target, now, {
      logger,
      ...(options.openDestination ? { openDestination: options.openDestination } : {}),
    });
    if (plan.plan.refused) {
      logger.error({ reason: plan.plan.reason }, "prune refused");
      throw new PruneRefusedError(plan.plan, plan);
    }
    for (const { id, ...lock } of plan.locked) {
      logger.info({ snapshot: id, ...lockJson(lock) }, `snapshot kept: ${lockedReason(lock)}`);
    }
    const removed: string[] = [];
    const failed: PruneFailure[] = [];
    for (const folder of plan.removals) {
      signal.throwIfAborted();
      try {
        await removeSnapshot(storage, folder);
        removed.push(folder.id);
        logger.info({ snapshot: folder.id }, "snapshot removed");
      } catch (error) {
        if (!(error instanceof RemovalError)) throw error;
        failed.push(error.toFailure());
        logger.error(
          { snapshot: folder.id, stage: error.stage, err: error.message, hint: error.hint },
          "snapshot not removed",
        );
        if (isHavenError(error, "TRANSIENT")) break;
      }
    }
    return { plan, removed, failed };
  });
}
