/**
 * Calendar months in the config's timezone: `2026-10` is `[2026-10-01T00:00 local, 2026-11-01T00:00
 * local)`. Luxon does the timezone arithmetic, so months that start or end around a DST change are
 * exact.
 */
import { DateTime } from "luxon";
import { HavenError } from "../lib/errors";
import { assertTimezone } from "../retention/periods";

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** The `[start, end)` of a month, as instants. */
export interface MonthBounds {
  month: string;
  start: Date;
  end: Date;
}

/** Throws a USAGE HavenError (exit 2) unless `text` is `YYYY-MM`. */
export function parseMonth(text: string): { year: number; month: number } {
  const match = MONTH.exec(text.trim());
  if (!match) {
    throw new HavenError("USAGE", `not a month: "${text}"`, {
      hint: "write the month as YYYY-MM, e.g. --month 2026-10",
    });
  }
  return { year: Number(match[1]), month: Number(match[2]) };
}

export function monthBounds(month: string, timezone: string): MonthBounds {
  assertTimezone(timezone);
  const { year, month: m } = parseMonth(month);
  const start = DateTime.fromObject({ year, month: m, day: 1 }, { zone: timezone });
  return {
    month: start.toFormat("yyyy-MM"),
    start: start.toJSDate(),
    end: start.plus({ months: 1 }).toJSDate(),
  };
}

/** The month before the one `now` falls in, in `timezone`: what the scheduled report covers. */
export function previousMonth(now: Date, timezone: string): string {
  assertTimezone(timezone);
  return DateTime.fromJSDate(now, { zone: timezone })
    .startOf("month")
    .minus({ months: 1 })
    .toFormat("yyyy-MM");
}

/** `shiftMonth("2026-01", -1)` is `"2025-12"`. */
export function shiftMonth(month: string, delta: number): string {
  const { year, month: m } = parseMonth(month);
  return DateTime.fromObject({ year, month: m, day: 1 }, { zone: "UTC" })
    .plus({ months: delta })
    .toFormat("yyyy-MM");
}

/** The `count` months ending with `month`, oldest first. */
export function monthsEndingWith(month: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => shiftMonth(month, i - count + 1));
}

/** `October 2026` */
export function monthTitle(month: string): string {
  const { year, month: m } = parseMonth(month);
  return DateTime.fromObject({ year, month: m, day: 1 }, { zone: "UTC" })
    .setLocale("en")
    .toFormat("LLLL yyyy");
}

/** The local calendar day (`2026-10-09`) of an instant. */
export function localDay(instant: Date, timezone: string): string {
  return DateTime.fromJSDate(instant, { zone: timezone }).toFormat("yyyy-MM-dd");
}

/** Every local day of `[start, end)`, in order. */
export function daysOf(start: Date, end: Date, timezone: string): string[] {
  const days: string[] = [];
  let day = DateTime.fromJSDate(start, { zone: timezone }).startOf("day");
  while (day.toMillis() < end.getTime()) {
    days.push(day.toFormat("yyyy-MM-dd"));
    day = day.plus({ days: 1 });
  }
  return days;
}

/** `2026-10-09 01:05` in the timezone: how dates read in the report. */
export function formatLocal(instant: Date | string, timezone: string): string {
  const date = typeof instant === "string" ? new Date(instant) : instant;
  return DateTime.fromJSDate(date, { zone: timezone }).toFormat("yyyy-MM-dd HH:mm");
}
