/**
 * What RPO/RTO evaluation reads and returns. The inputs are plain data read from the destination (the
 * source of truth, see `loadSloInputs`), so every evaluation is a pure function of its inputs and `now`.
 *
 * Glossary
 * - recovery point: a snapshot whose manifest says `committed` or `partial` (both are usable).
 * - restore test: a verification of kind `restore`; its `totalMs` is a measured restore time.
 * - breach: the promise in haven.yaml is broken now. at-risk: not yet, but the trend says it will be.
 */

/** One snapshot as the SLO evaluation sees it. */
export interface SnapshotPoint {
  id: string;
  /** When the backup began (ms precision); orders snapshots of the same second, as restores do. */
  startedAt?: Date;
  finishedAt: Date;
  /** Only `committed` and `partial` snapshots count as recovery points; other states are ignored. */
  state: string;
  tiers?: string[];
  /** Bytes of the plain payload (sum over the snapshot's stored objects), the size a restore handles. */
  plainSize?: number;
  /** Bytes as stored (after compression and encryption). */
  storedSize?: number;
}

/** One verification record (integrity check or restore test), reduced to what evaluation needs. */
export interface VerificationPoint {
  kind: "integrity" | "restore";
  snapshotId: string;
  finishedAt: Date;
  totalMs: number;
  result: "passed" | "failed";
  /** Plain size of the verified snapshot, from its manifest. */
  plainSize?: number;
  /** Names of the checks that failed, with expected and actual values where recorded. */
  failedChecks?: string[];
  error?: { code: string; message: string };
  /**
   * The verification failed in a way that proves the snapshot bad (a hash, a count or an operator's
   * check did not match, or it could not be decrypted or unpacked safely), not because the scratch
   * place, the network or the freshness guard failed.
   */
  damaged?: boolean;
  /** It failed only its freshness guard (see `failedOnlyFreshness`): the RPO's matter, not the snapshot's. */
  stale?: boolean;
  /** It failed in a way that says nothing of the snapshot (see `saysNothingOfSnapshot`). */
  inconclusive?: boolean;
}

/** A restore test as `evaluateRto` reads it. */
export interface RestoreTestPoint {
  snapshotId: string;
  finishedAt: Date;
  totalMs: number;
  result: "passed" | "failed";
  plainSize?: number;
}

/** The backup schedule of a target: its cron patterns (one per tier) in the config's timezone. */
export interface BackupSchedule {
  patterns: string[];
  /** IANA timezone the patterns are read in (the config's top-level `timezone`). */
  timezone: string;
}

export type SloStatus = "ok" | "at-risk" | "breached" | "unknown";

/** A scheduled firing time that passed (more than the grace ago) with no snapshot finished after it. */
export interface MissedSchedule {
  at: Date;
  pattern: string;
}

export interface RpoEvaluation {
  target: string;
  status: "ok" | "breached";
  rpoMs: number;
  /** `startedAt` is the recovery point (when its data was captured), which the age counts from. */
  newest: { id: string; startedAt: Date; finishedAt: Date } | null;
  /** Age of the newest recovery point at `now` (from its start); null when there is none. */
  newestAgeMs: number | null;
  /** When the breach began (newest startedAt + rpo); null when ok, or when unknowable (no snapshot ever). */
  since: Date | null;
  missedSchedules: MissedSchedule[];
  /** One sentence an operator reads. */
  reason: string;
}

/** One extrapolation behind an RTO forecast. */
export interface RtoForecast {
  /** `size`: restore time fitted against plain size; `time`: restore time fitted against date. */
  model: "size" | "time";
  /** What the model was evaluated at: the newest snapshot's size, the size trend 30 days out, or a date. */
  basis: "newest-size" | "size-trend" | "date";
  atSize?: number;
  atTime?: Date;
  ms: number;
}

export interface RtoEvaluation {
  target: string;
  status: "ok" | "at-risk" | "breached" | "unknown";
  rtoMs: number;
  /** Total time of the newest passed restore test; null when none passed. */
  lastMs: number | null;
  /** The highest forecast (see `forecasts`); null when the history is too short to fit. */
  forecastMs: number | null;
  forecasts: RtoForecast[];
  /** When the breach began (the newest restore test's finishedAt); null unless breached. */
  since: Date | null;
  reason: string;
}

/** Both evaluations of one target, and one status for `haven status`. */
export interface TargetEvaluation {
  target: string;
  /**
   * The worst of: RPO, RTO, missed backup or verification schedules (at-risk), a failed newest
   * verification (at-risk).
   */
  status: SloStatus;
  /** Why the status is not ok, one sentence each; empty when ok. */
  reasons: string[];
  rpo: RpoEvaluation;
  rto: RtoEvaluation;
  newestSnapshot: SnapshotPoint | null;
  /** The verification that stands for the target: the newest one of the newest snapshot that was
   * verified, of any kind. A pass on an older snapshot does not stand over a newer one's failure. */
  lastVerification: VerificationPoint | null;
  /** Firings of the target's verify schedule that left no verification record (at-risk). */
  missedVerifications: MissedSchedule[];
  /** Bytes stored for the target's snapshots (on the destination evaluated). */
  storedBytes: number;
  evaluatedAt: Date;
}
