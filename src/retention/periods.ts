/**
 * Calendar periods of an instant in an IANA timezone. Luxon does the timezone and ISO-week arithmetic
 * (DST jumps, ISO week 53, week-years that differ from calendar years) so that none of it is hand-written.
 */
import { DateTime, IANAZone } from "luxon";
import { HavenError } from "../lib/errors";

/** The period rules of a retention policy, in the order their reasons are listed. */
export const PERIOD_UNITS = ["daily", "weekly", "monthly", "yearly"] as const;
export type PeriodUnit = (typeof PERIOD_UNITS)[number];

/** The local periods an instant falls in: `2026-11-20`, `2026-W47`, `2026-11`, `2026`. */
export type LocalPeriods = Record<PeriodUnit, string>;

/**
 * Throws a CONFIG HavenError unless `timezone` is an IANA zone name the runtime knows. Checked once per
 * decision, because luxon would otherwise return invalid dates rather than fail.
 */
export function assertTimezone(timezone: string): void {
  if (!IANAZone.isValidZone(timezone)) {
    throw new HavenError("CONFIG", `unknown timezone "${timezone}"`, {
      hint: 'set `timezone:` in haven.yaml to an IANA name such as "UTC", "Europe/Paris" or "America/New_York"',
    });
  }
}

/** The day, ISO week (Monday first, week-year), month and year of `instant` as seen in `timezone`. */
export function localPeriods(instant: Date, timezone: string): LocalPeriods {
  const local = DateTime.fromJSDate(instant, { zone: timezone });
  if (!local.isValid) {
    throw new HavenError("PERMANENT", `cannot place ${String(instant)} in timezone ${timezone}`, {
      hint: "check the snapshot's manifest startedAt and the configured timezone",
    });
  }
  return {
    daily: local.toFormat("yyyy-MM-dd"),
    weekly: `${local.toFormat("kkkk")}-W${local.toFormat("WW")}`,
    monthly: local.toFormat("yyyy-MM"),
    yearly: local.toFormat("yyyy"),
  };
}

/** `2026-11-20 03:00 +01:00`: a snapshot's time as the operator's timezone shows it. */
export function formatLocalTime(instant: Date, timezone: string): string {
  return DateTime.fromJSDate(instant, { zone: timezone }).toFormat("yyyy-MM-dd HH:mm ZZ");
}
