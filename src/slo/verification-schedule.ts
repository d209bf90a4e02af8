/**
 * Scheduled verifications that left no record. A restore time measured months ago says little about
 * today's restore, and a verify job that no longer runs also stops catching damaged snapshots: when
 * the target's `verify.schedule` fires and no verification record follows, the operator must know.
 * A pure function of the records read from the destination and `now`, like the RPO.
 */
import { DEFAULT_MISSED_LOOKBACK_MS, DEFAULT_SCHEDULE_GRACE_MS, findMissedSchedules, laterOf } from "./rpo";
import type { BackupSchedule, MissedSchedule, SnapshotPoint, VerificationPoint } from "./types";

export interface MissedVerificationInput {
  target: string;
  /** The target's `verify.schedule`, in the config's timezone. */
  schedule: BackupSchedule;
  verifications: readonly VerificationPoint[];
  snapshots: readonly SnapshotPoint[];
  rtoMs: number;
  now: Date;
  /** How far back missed firings are looked for. Default 7 days. */
  lookbackMs?: number;
}

/**
 * Firings of the verify schedule with no verification record (of any kind or result) finished after
 * them. A firing gets the RTO plus an hour to leave its record (a restore test may take the RTO, and
 * wait behind backups); firings before the first snapshot had nothing to verify.
 */
export function findMissedVerifications(input: MissedVerificationInput): MissedSchedule[] {
  const { now } = input;
  const first = input.snapshots.reduce<Date | undefined>(
    (a, s) => (!a || s.finishedAt.getTime() < a.getTime() ? s.finishedAt : a),
    undefined,
  );
  if (!first) return [];
  return findMissedSchedules(input.schedule, {
    after: laterOf(
      ...input.verifications.map((v) => v.finishedAt),
      first,
      new Date(now.getTime() - (input.lookbackMs ?? DEFAULT_MISSED_LOOKBACK_MS)),
    ),
    before: new Date(now.getTime() - input.rtoMs - DEFAULT_SCHEDULE_GRACE_MS),
    configKey: `targets.${input.target}.verify.schedule`,
  });
}
