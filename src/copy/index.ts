/**
 * Copies and immutability: each snapshot is committed on a target's first destination and copied to the
 * others (streamed as stored, checked by sha256 on arrival, manifest last); S3 destinations may put an
 * Object Lock retention on every object of a snapshot.
 */
export { copySnapshot, type CopyOptions, type CopyResult } from "./copy-snapshot";
export {
  checkObjectLockDestinations,
  checkObjectLockEnabled,
  objectLockOf,
  retainUntilFor,
  retentionEnd,
  snapshotRetainUntil,
  type CheckObjectLockOptions,
  type ObjectLockSettings,
  type RetainUntilInput,
} from "./object-lock";
export {
  pendingCopies,
  pendingOn,
  primarySnapshots,
  type PendingCopiesOptions,
  type PendingCopy,
} from "./pending";
export { copyPending, copyReportError, type CopyFailure, type CopyReport, type CopyRunOptions } from "./run";
