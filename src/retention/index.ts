/** Retention: which snapshots to keep, whether a prune run may go ahead, and how a dry run reads. */
export { applyRetention, keepAlso, REASON, type ApplyRetentionOptions } from "./apply-retention";
export {
  planPrune,
  refusalError,
  type PlanPruneOptions,
  type PrunePlan,
  type PruneApproved,
  type PruneRefused,
} from "./plan-prune";
export { pruneJson, pruneTable, type PruneJson, type PruneJsonEntry } from "./format";
export {
  assertTimezone,
  localPeriods,
  formatLocalTime,
  PERIOD_UNITS,
  type LocalPeriods,
  type PeriodUnit,
} from "./periods";
export type {
  RetentionAction,
  RetentionCandidate,
  RetentionDecision,
  RetentionEntry,
  RetentionPolicy,
} from "./types";
