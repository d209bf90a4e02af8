/**
 * Prune: removes the snapshots retention no longer keeps, on every destination, under the target's
 * lock, manifest first, never under Object Lock, never outside the config (orphans are reported and
 * removed only on request). The policy itself is pure and lives in src/retention.
 */
export {
  executePrune,
  PruneRefusedError,
  type ExecutePruneOptions,
  type PruneOutcome,
  type WithLock,
} from "./execute";
export { listSnapshotFolders, folderKeys, type SnapshotFolder } from "./inventory";
export { lockedReason, snapshotLock, type LockedSnapshot, type SnapshotLock } from "./locks";
export {
  findOrphans,
  pruneOrphans,
  type OrphanOutcome,
  type OrphanTarget,
  type PruneOrphansOptions,
} from "./orphans";
export { prunePlan, type PrunePlanOptions, type TargetPrunePlan } from "./plan";
export { configuredTarget, maxRemoveShareOf, retentionOn } from "./policy";
export { RemovalError, removeSnapshot, type PruneFailure, type RemovalStage } from "./remove";
export {
  pruneReportJson,
  pruneReportTable,
  type OrphanJson,
  type PruneReportJson,
  type PruneResultJson,
} from "./report-format";
export {
  pruneRun,
  pruneRunError,
  type PruneReport,
  type PruneRunOptions,
  type RunError,
  type TargetDestinationResult,
} from "./run";
export type { UnreadableSnapshot } from "./candidates";
