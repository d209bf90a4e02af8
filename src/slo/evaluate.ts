/**
 * RPO/RTO evaluation of a target: pure functions of data read from the destination and an injected
 * `now` (HOUSE_STYLE practice 9). `haven status`, the RPO watchdog, alerts and metrics all read the
 * same `TargetEvaluation`.
 */
import { isSnapshotId, snapshotIdTime } from "../catalog/layout";
import { ExitCode } from "../lib/errors";
import type { TargetConfig } from "../config/types";
import { evaluateRpo, newestRecoveryPoint, recoveryPointOf } from "./rpo";
import { evaluateRto } from "./rto";
import { findMissedVerifications } from "./verification-schedule";
import { damagedSnapshots } from "../verify/damage";
import type {
  BackupSchedule,
  RestoreTestPoint,
  SloStatus,
  SnapshotPoint,
  TargetEvaluation,
  VerificationPoint,
} from "./types";

export {
  evaluateRpo,
  newestRecoveryPoint,
  DEFAULT_SCHEDULE_GRACE_MS,
  DEFAULT_MISSED_LOOKBACK_MS,
} from "./rpo";
export type { RpoInput } from "./rpo";
export {
  evaluateRto,
  forecastRestoreTimes,
  AT_RISK_FRACTION,
  FORECAST_HORIZON_MS,
  MIN_FIT_POINTS,
} from "./rto";
export type { RtoInput } from "./rto";

export interface TargetSloInput {
  target: string;
  rpoMs: number;
  rtoMs: number;
  snapshots: readonly SnapshotPoint[];
  /** Every verification record of the target's snapshots (integrity checks and restore tests). */
  verifications: readonly VerificationPoint[];
  /**
   * Verification records of snapshots pruned since: they count as restore-time measurements and as
   * runs of the verify schedule, never for what a snapshot that still exists is worth.
   */
  prunedVerifications?: readonly VerificationPoint[];
  schedule?: BackupSchedule;
  /** The target's `verify.schedule`: firings that left no verification record make it at-risk. */
  verifySchedule?: BackupSchedule;
  now: Date;
  /** See `RpoInput.graceMs`. */
  graceMs?: number;
  /** See `RpoInput.trackedSince`. */
  trackedSince?: Date;
}

const SEVERITY: Record<SloStatus, number> = { ok: 0, unknown: 1, "at-risk": 2, breached: 3 };

/** The worst of several statuses (breached > at-risk > unknown > ok). */
export function worstStatus(statuses: readonly SloStatus[]): SloStatus {
  return statuses.reduce<SloStatus>((worst, s) => (SEVERITY[s] > SEVERITY[worst] ? s : worst), "ok");
}

/**
 * RPO and RTO of one target, combined: breached when either is breached; at-risk when the RTO is at
 * risk, a scheduled run was missed, or the newest verification failed; unknown when no restore test
 * exists yet; ok otherwise.
 */
export function evaluateTarget(input: TargetSloInput): TargetEvaluation {
  const { target, now } = input;
  const everyVerification = [...input.verifications, ...(input.prunedVerifications ?? [])];
  const rpo = evaluateRpo({
    target,
    rpoMs: input.rpoMs,
    snapshots: input.snapshots,
    damaged: damagedSnapshots(input.verifications),
    now,
    ...(input.schedule ? { schedule: input.schedule } : {}),
    ...(input.graceMs === undefined ? {} : { graceMs: input.graceMs }),
    ...(input.trackedSince ? { trackedSince: input.trackedSince } : {}),
  });
  const rto = evaluateRto({
    target,
    rtoMs: input.rtoMs,
    restoreTests: restoreTestsOf(everyVerification),
    snapshots: input.snapshots,
    now,
  });
  const lastVerification = standingVerification(input.verifications, input.snapshots);
  const missedVerifications = input.verifySchedule
    ? findMissedVerifications({
        target,
        schedule: input.verifySchedule,
        verifications: everyVerification,
        snapshots: input.snapshots,
        rtoMs: input.rtoMs,
        now,
      })
    : [];

  const statuses: SloStatus[] = [rpo.status, rto.status];
  const reasons: string[] = [];
  if (rpo.status !== "ok") reasons.push(`RPO: ${rpo.reason}`);
  if (rpo.missedSchedules.length > 0) {
    statuses.push("at-risk");
    const first = rpo.missedSchedules[0] as { at: Date };
    reasons.push(`${rpo.missedSchedules.length} scheduled backup(s) missed since ${first.at.toISOString()}`);
  }
  if (rto.status !== "ok") reasons.push(`RTO: ${rto.reason}`);
  const firstUnverified = missedVerifications[0];
  if (firstUnverified) {
    statuses.push("at-risk");
    reasons.push(
      `${missedVerifications.length} scheduled verification(s) left no record since ${firstUnverified.at.toISOString()}`,
    );
  }
  if (
    lastVerification?.result === "failed" &&
    !lastVerification.stale &&
    lastVerification.kind === "integrity"
  ) {
    // A failed restore test already makes the RTO breached; a failed integrity check is flagged here.
    statuses.push("at-risk");
    reasons.push(`the newest integrity check (snapshot ${lastVerification.snapshotId}) failed`);
  }

  return {
    target,
    status: worstStatus(statuses),
    reasons,
    rpo,
    rto,
    newestSnapshot: newestRecoveryPoint(input.snapshots),
    lastVerification,
    missedVerifications,
    storedBytes: input.snapshots.reduce((sum, s) => sum + (s.storedSize ?? 0), 0),
    evaluatedAt: now,
  };
}

/** The restore tests among verification records, with the plain size of the snapshot each restored. */
export function restoreTestsOf(verifications: readonly VerificationPoint[]): RestoreTestPoint[] {
  return verifications
    .filter((v) => v.kind === "restore")
    .map((v) => ({
      snapshotId: v.snapshotId,
      finishedAt: v.finishedAt,
      totalMs: v.totalMs,
      // A restore that worked but found the target stale measured a real restore time.
      result: v.stale ? "passed" : v.result,
      ...(v.plainSize === undefined ? {} : { plainSize: v.plainSize }),
    }));
}

/**
 * The newest verification of the newest snapshot that was verified. Verification may pick an older
 * snapshot at random; its pass says nothing of a newer snapshot that failed, so it must not clear
 * that failure. "Newest" is by start time, as `findSnapshot` orders them: ids have second
 * precision, and two snapshots of the same second would otherwise order by their random tails.
 */
export function standingVerification(
  verifications: readonly VerificationPoint[],
  snapshots: readonly SnapshotPoint[],
): VerificationPoint | null {
  const byId = new Map(snapshots.map((s) => [s.id, s]));
  // A verified snapshot since pruned is known by its id alone (its time, to the second).
  const startOf = (id: string) => {
    const snapshot = byId.get(id);
    if (snapshot) return recoveryPointOf(snapshot).getTime();
    return isSnapshotId(id) ? snapshotIdTime(id).getTime() : 0;
  };
  let newestSnapshot: string | undefined;
  for (const { snapshotId: id } of verifications) {
    if (newestSnapshot === undefined) newestSnapshot = id;
    else {
      const byStart = startOf(id) - startOf(newestSnapshot);
      if (byStart > 0 || (byStart === 0 && id > newestSnapshot)) newestSnapshot = id;
    }
  }
  return newestVerification(verifications.filter((v) => v.snapshotId === newestSnapshot));
}

export function newestVerification(verifications: readonly VerificationPoint[]): VerificationPoint | null {
  let newest: VerificationPoint | null = null;
  for (const v of verifications)
    if (!newest || v.finishedAt.getTime() > newest.finishedAt.getTime()) newest = v;
  return newest;
}

/** The backup schedule of a configured target: its tier patterns in the config's timezone. */
export function scheduleOf(target: TargetConfig, timezone: string): BackupSchedule | undefined {
  const patterns = [target.schedule.daily, target.schedule.weekly, target.schedule.monthly].filter(
    (p): p is string => p !== undefined,
  );
  return patterns.length > 0 ? { patterns, timezone } : undefined;
}

/** The verify schedule of a configured target, in the config's timezone. */
export function verifyScheduleOf(target: TargetConfig, timezone: string): BackupSchedule {
  return { patterns: [target.verify.schedule], timezone };
}

/** `haven status` exit code: 3 when any target is breached, else 0 (at-risk and unknown are warnings). */
export function statusExitCode(evaluations: readonly TargetEvaluation[]): number {
  return evaluations.some((e) => e.status === "breached") ? ExitCode.BREACH_OR_PARTIAL : ExitCode.OK;
}
