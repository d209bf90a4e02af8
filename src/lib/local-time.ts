/**
 * Times an operator types (`restore --at`, `audit --since`): ISO 8601, and without an offset they
 * are read in the config's `timezone`, as schedules and reports are. JavaScript's own parser reads
 * `2026-12-06T03:00` in the machine's zone and `2026-12-06` in UTC: on a server kept in UTC, an
 * operator in Berlin asking for the snapshot before 03:00 got one up to an hour later, which can be
 * one taken after the damage they are restoring from.
 */
import { DateTime } from "luxon";

/** The instant `text` names, or null when it is not an ISO 8601 date or date-time. */
export function parseOperatorTime(text: string, timezone: string): Date | null {
  // luxon also reads a bare time ("12") as today's: a restore point must name its day.
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim())) return null;
  const parsed = DateTime.fromISO(text.trim(), { zone: timezone });
  return parsed.isValid ? parsed.toJSDate() : null;
}
