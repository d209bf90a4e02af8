/**
 * RPO: the largest tolerated age of the newest good snapshot. A pure function of the snapshots read
 * from the destination and `now` (HOUSE_STYLE practice 9).
 */
import { CronExpressionParser } from "cron-parser";
import { isSnapshotId, snapshotIdTime } from "../catalog/layout";
import { HavenError } from "../lib/errors";
import { formatDuration } from "../lib/duration";
import type { BackupSchedule, MissedSchedule, RpoEvaluation, SnapshotPoint } from "./types";

/** States whose snapshot is usable, hence a recovery point (see the manifest's `state`). */
const RECOVERY_POINT_STATES = new Set(["committed", "partial"]);

/** A scheduled run gets this long to finish before its firing counts as missed. */
export const DEFAULT_SCHEDULE_GRACE_MS = 60 * 60 * 1000;
/** Missed firings are looked for this far back at most, so a target idle for a year costs nothing. */
export const DEFAULT_MISSED_LOOKBACK_MS = 7 * 24 * 60 * 60 * 1000;
/** At most this many missed firings are listed per pattern (the newest ones). */
const MAX_MISSED_PER_PATTERN = 50;

export interface RpoInput {
  target: string;
  rpoMs: number;
  snapshots: readonly SnapshotPoint[];
  /** When given, scheduled firings with no snapshot finished after them are reported as missed. */
  schedule?: BackupSchedule;
  now: Date;
  /**
   * How long after a firing its snapshot may still finish. Default 1 h, or twice the longest run
   * among the target's recent snapshots when that is longer (a 3-hour dump is not missed at 1 h).
   */
  graceMs?: number;
  /** How far back missed firings are looked for. Default 7 days. */
  lookbackMs?: number;
  /**
   * When Haven started watching the target (e.g. when it first appeared in the config). A target with
   * no snapshot yet is in breach only from `trackedSince + rpo`, and no firing before it counts as
   * missed. Without it, a target with no snapshot is in breach at once (since unknown). Ignored once
   * the target has any snapshot, even one proven damaged: that target is not new, and its breach real.
   */
  trackedSince?: Date;
  /**
   * Ids of snapshots whose newest verification proved them damaged (see `VerificationPoint.damaged`).
   * They are not good backups, so the RPO counts from the newest snapshot not among them.
   */
  damaged?: ReadonlySet<string>;
}

/**
 * A snapshot's age is counted from its recovery point (`recoveryPointOf`: when the backup started
 * reading the data), not from when it finished: a 3-hour backup that finished 23 h ago holds data
 * 26 h old.
 * - ok: the newest good snapshot (committed or partial, not proven damaged) is at most `rpoMs` old.
 * - breached: it is older (since = its recovery point + rpo), or there is none (since = trackedSince
 *   + rpo, or null when trackedSince is not given).
 * `missedSchedules` lists the firings of the schedule's cron patterns that passed more than `graceMs`
 * ago with no snapshot finished after them (any tier: one run may serve several tiers).
 */
export function evaluateRpo(input: RpoInput): RpoEvaluation {
  const { target, rpoMs, now } = input;
  const taken = newestRecoveryPoint(input.snapshots);
  const damaged = input.damaged ?? new Set<string>();
  const newest = newestRecoveryPoint(input.snapshots.filter((s) => !damaged.has(s.id)));
  // A damaged snapshot still shows its scheduled run happened: it is not a missed schedule.
  const missedSchedules = input.schedule
    ? findMissedSchedules(input.schedule, {
        after: laterOf(
          taken?.finishedAt,
          input.trackedSince,
          new Date(now.getTime() - (input.lookbackMs ?? DEFAULT_MISSED_LOOKBACK_MS)),
        ),
        before: new Date(now.getTime() - scheduleGraceMs(input)),
        configKey: `targets.${target}.schedule`,
      })
    : [];
  const base = { target, rpoMs, missedSchedules };
  const newerDamaged =
    taken && taken !== newest ? `; the newer snapshot ${taken.id} failed its verification` : "";
  const noun = newerDamaged ? "newest good snapshot" : "newest snapshot";

  if (!newest) {
    const trackedSince = taken ? undefined : input.trackedSince;
    if (trackedSince && now.getTime() < trackedSince.getTime() + rpoMs) {
      return {
        ...base,
        status: "ok",
        newest: null,
        newestAgeMs: null,
        since: null,
        reason: `no snapshot yet; the first is due within the RPO of ${formatDuration(rpoMs)}`,
      };
    }
    return {
      ...base,
      status: "breached",
      newest: null,
      newestAgeMs: null,
      since: trackedSince ? new Date(trackedSince.getTime() + rpoMs) : null,
      reason: taken
        ? `no good snapshot of ${target} exists (the newest, ${taken.id}, failed its verification); the RPO is ${formatDuration(rpoMs)}`
        : `no usable snapshot of ${target} exists; the RPO is ${formatDuration(rpoMs)}`,
    };
  }

  const capturedAt = recoveryPointOf(newest);
  const ageMs = now.getTime() - capturedAt.getTime();
  const newestRef = { id: newest.id, startedAt: capturedAt, finishedAt: newest.finishedAt };
  if (ageMs <= rpoMs) {
    return {
      ...base,
      status: "ok",
      newest: newestRef,
      newestAgeMs: ageMs,
      since: null,
      reason: `${noun} is ${formatDuration(ageMs)} old, within the RPO of ${formatDuration(rpoMs)}${newerDamaged}`,
    };
  }
  return {
    ...base,
    status: "breached",
    newest: newestRef,
    newestAgeMs: ageMs,
    since: new Date(capturedAt.getTime() + rpoMs),
    reason: `${noun} ${newest.id} is ${formatDuration(ageMs)} old${newerDamaged}; the RPO is ${formatDuration(rpoMs)}`,
  };
}

/**
 * When a snapshot's data was captured: its start (the dump or archive began reading then; what it
 * holds is at least that old). Without `startedAt`, the time in its id (minted at the start, to the
 * second below), else its finish.
 */
export function recoveryPointOf(snapshot: Pick<SnapshotPoint, "id" | "startedAt" | "finishedAt">): Date {
  if (snapshot.startedAt) return snapshot.startedAt;
  return isSnapshotId(snapshot.id) ? snapshotIdTime(snapshot.id) : snapshot.finishedAt;
}

/** The committed or partial snapshot with the newest data (the latest recovery point). */
export function newestRecoveryPoint(snapshots: readonly SnapshotPoint[]): SnapshotPoint | null {
  let newest: SnapshotPoint | null = null;
  for (const snapshot of snapshots) {
    if (!RECOVERY_POINT_STATES.has(snapshot.state)) continue;
    if (!newest || recoveryPointOf(snapshot).getTime() > recoveryPointOf(newest).getTime()) newest = snapshot;
  }
  return newest;
}

/** Recent snapshots whose run length sets the grace (the newest few: a target's size changes). */
const GRACE_SAMPLE = 10;

function scheduleGraceMs(input: RpoInput): number {
  if (input.graceMs !== undefined) return input.graceMs;
  const durations = [...input.snapshots]
    .filter((s) => s.startedAt !== undefined)
    .sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime())
    .slice(0, GRACE_SAMPLE)
    .map((s) => s.finishedAt.getTime() - (s.startedAt as Date).getTime());
  return Math.max(DEFAULT_SCHEDULE_GRACE_MS, 2 * Math.max(0, ...durations));
}

/** Firings enumerated per pattern at most (a per-minute pattern over the 7-day lookback is 10,080). */
const MAX_FIRINGS_SCANNED = 20_000;

/**
 * Firings strictly after `after` and strictly before `before`, oldest first. `configKey` names the
 * schedule in the config, for the error when a pattern cannot be read.
 */
export function findMissedSchedules(
  schedule: BackupSchedule,
  window: { after: Date; before: Date; configKey: string },
): MissedSchedule[] {
  if (window.before.getTime() <= window.after.getTime()) return [];
  const missed: MissedSchedule[] = [];
  for (const pattern of schedule.patterns) {
    // Forward with next(), as BullMQ schedules: walking back with prev() disagreed with it across
    // DST changes (it saw the repeated autumn hour twice, and skipped the shifted spring firing).
    const firings = parseCron(pattern, schedule.timezone, window.after, window.configKey);
    const found: MissedSchedule[] = [];
    for (let count = 0; count < MAX_FIRINGS_SCANNED && firings.hasNext(); count++) {
      const at = firings.next().toDate();
      // next() is strictly after `after`; `before` is exclusive: a firing exactly `grace` ago is not missed yet.
      if (at.getTime() >= window.before.getTime()) break;
      found.push({ at, pattern });
    }
    missed.push(...found.slice(-MAX_MISSED_PER_PATTERN));
  }
  return missed.sort((a, b) => a.at.getTime() - b.at.getTime() || a.pattern.localeCompare(b.pattern));
}

function parseCron(pattern: string, timezone: string, currentDate: Date, configKey: string) {
  try {
    return CronExpressionParser.parse(pattern, { currentDate, tz: timezone });
  } catch (error) {
    throw new HavenError("CONFIG", `schedule "${pattern}" (${configKey}) cannot be read: ${String(error)}`, {
      hint: `fix ${configKey} in the config (5 fields, e.g. "0 2 * * *"); haven config validate checks it`,
      cause: error,
    });
  }
}

export function laterOf(...dates: Array<Date | undefined>): Date {
  let latest = -Infinity;
  for (const date of dates) if (date && date.getTime() > latest) latest = date.getTime();
  return new Date(latest);
}
