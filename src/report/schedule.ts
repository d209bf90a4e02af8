/**
 * Scheduled backups of a period, and which of them produced a snapshot. Each tier has its own job
 * scheduler (src/jobs/schedules.ts), so each firing of a tier's cron pattern should yield one snapshot
 * of that tier. A firing is answered by a snapshot of its tier started at or after it and before the
 * tier's next firing; a firing nothing answers was missed. Pure functions.
 */
import { CronExpressionParser } from "cron-parser";
import type { ScheduledTier, TargetConfig } from "../config/types";
import { HavenError } from "../lib/errors";

export const SCHEDULED_TIERS: readonly ScheduledTier[] = ["daily", "weekly", "monthly"];

/** One scheduled firing and the snapshot that answered it, if any. */
export interface Firing {
  tier: ScheduledTier;
  at: Date;
  answeredBy: string | null;
}

/** A snapshot as schedule matching sees it. */
export interface StartedSnapshot {
  id: string;
  startedAt: Date;
  tiers: readonly string[];
}

/**
 * Firings of `pattern` in `[start, end)`, in `timezone`. Throws a CONFIG HavenError for a pattern
 * cron-parser cannot read (the config loader validates patterns, so this is a guard).
 */
export function firingsBetween(
  pattern: string,
  timezone: string,
  start: Date,
  end: Date,
  target: string,
): Date[] {
  const expression = firingsFrom(pattern, timezone, start, target, end);
  const firings: Date[] = [];
  while (expression.hasNext()) {
    const at = expression.next().toDate();
    if (at.getTime() >= end.getTime()) break;
    firings.push(at);
  }
  return firings;
}

/** The first firing of `pattern` at or after `at`, in `timezone` (or 400 days on, if none before). */
function nextFiring(pattern: string, timezone: string, at: Date, target: string): Date {
  const far = new Date(at.getTime() + 400 * 24 * 3_600_000);
  const expression = firingsFrom(pattern, timezone, at, target, far);
  return expression.hasNext() ? expression.next().toDate() : far;
}

/** The firings of `pattern` at or after `start` (and before `end`), one by one. */
function firingsFrom(pattern: string, timezone: string, start: Date, target: string, end?: Date) {
  try {
    // cron-parser's next() is strictly after currentDate: step back 1 ms so a firing at `start` counts.
    return CronExpressionParser.parse(pattern, {
      currentDate: new Date(start.getTime() - 1),
      ...(end ? { endDate: end } : {}),
      tz: timezone,
    });
  } catch (error) {
    throw new HavenError(
      "CONFIG",
      `schedule "${pattern}" of target ${target} cannot be read: ${String(error)}`,
      {
        hint: `fix targets.${target}.schedule in the config; haven config validate checks it`,
        cause: error,
      },
    );
  }
}

/**
 * Until when a snapshot may start and still answer a firing of `[.., end)`: the latest of the tiers'
 * first firings at or after `end`. A backup fired at 23:30 on the last day that waited in the queue
 * past midnight answers it though it started the next month. Null without a scheduled tier.
 */
export function answersUntil(
  target: Pick<TargetConfig, "name" | "schedule">,
  timezone: string,
  end: Date,
): Date | null {
  const next = SCHEDULED_TIERS.flatMap((tier) => {
    const pattern = target.schedule[tier];
    return pattern ? [nextFiring(pattern, timezone, end, target.name).getTime()] : [];
  });
  return next.length > 0 ? new Date(Math.max(...next)) : null;
}

/**
 * Every firing of the target's tier schedules in `[start, end)`, each matched to the first unused
 * snapshot of its tier started in `[firing, next firing)`, the next firing being after `end` for the
 * last one. Snapshots must be sorted by start time; those started after `end` only answer firings.
 * `until`: firings after it are not yet due (a month in progress gives running backups a grace).
 */
export function matchFirings(
  target: Pick<TargetConfig, "name" | "schedule">,
  timezone: string,
  period: { start: Date; end: Date; until: Date },
  snapshots: readonly StartedSnapshot[],
): Firing[] {
  const firings: Firing[] = [];
  for (const tier of SCHEDULED_TIERS) {
    const pattern = target.schedule[tier];
    if (!pattern) continue;
    const times = firingsBetween(pattern, timezone, period.start, period.end, target.name).filter(
      (at) => at.getTime() <= period.until.getTime(),
    );
    const candidates = snapshots.filter((s) => s.tiers.includes(tier));
    const afterEnd = nextFiring(pattern, timezone, period.end, target.name).getTime();
    let next = 0;
    times.forEach((at, index) => {
      const windowEnd = times[index + 1]?.getTime() ?? afterEnd;
      while (
        next < candidates.length &&
        (candidates[next] as StartedSnapshot).startedAt.getTime() < at.getTime()
      )
        next++;
      const candidate = candidates[next];
      if (candidate && candidate.startedAt.getTime() < windowEnd) {
        firings.push({ tier, at, answeredBy: candidate.id });
        next++;
      } else {
        firings.push({ tier, at, answeredBy: null });
      }
    });
  }
  return firings.sort((a, b) => a.at.getTime() - b.at.getTime() || a.tier.localeCompare(b.tier));
}
