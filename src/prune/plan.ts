/**
 * The decision for one target on one destination, read from the destination alone: list the target's
 * folders, read manifests and verification records, apply the policy (`applyRetention`), apply the
 * run's guard rails (`planPrune`), then look for Object Lock on what would be removed. Reads only.
 */
import type { Logger } from "pino";
import type { HavenConfig, TargetConfig } from "../config/types";
import { layout } from "../catalog/layout";
import { silentLogger } from "../lib/logger";
import { awaitedCopies, storageOf } from "../copy/pending";
import { applyRetention, keepAlso, planPrune, type PrunePlan, type RetentionDecision } from "../retention";
import type { StorageBackend } from "../storage/types";
import { readCandidates, type Candidates, type UnreadableSnapshot } from "./candidates";
import { listSnapshotFolders, type SnapshotFolder } from "./inventory";
import { snapshotLock, type LockedSnapshot } from "./locks";
import { configuredTarget, maxRemoveShareOf, retentionOn } from "./policy";

/** What one prune run would do for one target on one destination. */
export interface TargetPrunePlan {
  readonly target: string;
  /** The destination's name (`storage.name`). */
  readonly destination: string;
  /** Keep or remove, with reasons, for every readable snapshot. */
  readonly decision: RetentionDecision;
  /** Whether the run may go ahead (guard rails: everything, or more than maxRemoveShare). */
  readonly plan: PrunePlan;
  /** Snapshots with a manifest Haven cannot read: never removed. */
  readonly unreadable: readonly UnreadableSnapshot[];
  /** Snapshots the policy removes that are still under Object Lock: kept whole for now. */
  readonly locked: readonly LockedSnapshot[];
  /** The folders the run deletes: approved removals that are not locked, newest first. Empty when refused. */
  readonly removals: readonly SnapshotFolder[];
}

export interface PrunePlanOptions {
  logger?: Logger;
  /**
   * Opens another destination of the target (the caller closes it), to see which copies it still
   * needs before the primary removes anything. Default: the storage of the config's destination,
   * closed here.
   */
  openDestination?: (name: string) => StorageBackend;
}

/**
 * Decides for `target` (a name in the config) on `storage` as of `now` (injected; the retention
 * periods and the lock check both use it). Throws what reading the destination throws (TRANSIENT
 * when it is down), NOT_FOUND for a target that is not in the config.
 */
export async function prunePlan(
  config: HavenConfig,
  storage: StorageBackend,
  target: string,
  now: Date,
  options: PrunePlanOptions = {},
): Promise<TargetPrunePlan> {
  const targetConfig = configuredTarget(config, target);
  const logger = (options.logger ?? silentLogger).child({ target, destination: storage.name });
  const folders = await listSnapshotFolders(storage, layout.targetPrefix(target));
  const { snapshots, unreadable } = await readCandidates(storage, [...folders.values()], logger);
  const byPolicy = applyRetention(
    snapshots.map((s) => s.candidate),
    retentionOn(config, targetConfig, storage.name),
    now,
    { timezone: config.timezone },
  );
  const decision = keepAlso(
    byPolicy,
    await copiesOwed(config, targetConfig, storage, snapshots, now, logger, options.openDestination),
  );
  const plan = planPrune(decision, { maxRemoveShare: maxRemoveShareOf(config, targetConfig), target });

  const locked: LockedSnapshot[] = [];
  const removals: SnapshotFolder[] = [];
  if (!plan.refused) {
    const folderOf = new Map(snapshots.map((s) => [s.candidate.id, s.folder]));
    for (const entry of plan.remove) {
      const folder = folderOf.get(entry.snapshot.id);
      if (!folder) continue;
      const lock = await snapshotLock(storage, folder, now);
      if (lock) locked.push({ id: folder.id, ...lock });
      else removals.push(folder);
    }
  }
  for (const { id, error } of unreadable)
    logger.warn({ snapshot: id, err: error }, "manifest unreadable; snapshot kept");
  return { target, destination: storage.name, decision, plan, unreadable, locked, removals };
}

/**
 * On a target's primary destination, the snapshots another destination still waits for, with the
 * reason to keep them (`copy to offsite pending`). Nothing elsewhere: copies only leave the primary.
 */
async function copiesOwed(
  config: HavenConfig,
  target: TargetConfig,
  storage: StorageBackend,
  snapshots: Candidates["snapshots"],
  now: Date,
  logger: Logger,
  openDestination?: (name: string) => StorageBackend,
): Promise<Map<string, string>> {
  if (target.destinations[0] !== storage.name || target.destinations.length < 2) return new Map();
  const opened: StorageBackend[] = [];
  const open =
    openDestination ??
    ((name: string) => {
      const other = storageOf(config, name, logger);
      opened.push(other);
      return other;
    });
  try {
    const primary = new Map(snapshots.map((s) => [s.candidate.id, s.candidate]));
    const awaited = await awaitedCopies(config, target, primary, storage.name, open, now, logger);
    return new Map([...awaited].map(([id, names]) => [id, `copy to ${names.join(", ")} pending`]));
  } finally {
    await Promise.allSettled(opened.map((other) => other.close()));
  }
}
