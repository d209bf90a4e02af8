/** Local periods of an instant: the calendar arithmetic the policy stands on, with hand-checked answers. */
import { formatLocalTime, localPeriods } from "../../src/retention";

describe("localPeriods", () => {
  test.each([
    // instant, timezone, day, ISO week, month, year
    ["2026-11-20T02:00:00Z", "UTC", "2026-11-20", "2026-W47", "2026-11", "2026"],
    // Europe/Paris spring forward (Sun 2026-03-29): 00:30 CET is the 28th in UTC.
    ["2026-03-28T23:30:00Z", "Europe/Paris", "2026-03-29", "2026-W13", "2026-03", "2026"],
    ["2026-03-28T23:30:00Z", "UTC", "2026-03-28", "2026-W13", "2026-03", "2026"],
    // Europe/Paris fall back (Sun 2026-10-25): 00:30 CEST is the 24th in UTC.
    ["2026-10-24T22:30:00Z", "Europe/Paris", "2026-10-25", "2026-W43", "2026-10", "2026"],
    // America/New_York spring forward (Sun 2026-03-08): 00:30 EST, and 23:30 EST the evening before.
    ["2026-03-08T05:30:00Z", "America/New_York", "2026-03-08", "2026-W10", "2026-03", "2026"],
    ["2026-03-08T04:30:00Z", "America/New_York", "2026-03-07", "2026-W10", "2026-03", "2026"],
    // America/New_York fall back (Sun 2026-11-01): 00:30 EDT; and 22:00 EDT on Oct 31 is still October.
    ["2026-11-01T04:30:00Z", "America/New_York", "2026-11-01", "2026-W44", "2026-11", "2026"],
    ["2026-11-01T02:00:00Z", "America/New_York", "2026-10-31", "2026-W44", "2026-10", "2026"],
    // Leap day, and a new year seen from Paris before UTC gets there.
    ["2028-02-29T12:00:00Z", "UTC", "2028-02-29", "2028-W09", "2028-02", "2028"],
    ["2026-12-31T23:30:00Z", "Europe/Paris", "2027-01-01", "2026-W53", "2027-01", "2027"],
    // ISO week-years differ from calendar years at both ends.
    ["2025-12-29T12:00:00Z", "UTC", "2025-12-29", "2026-W01", "2025-12", "2025"],
    ["2027-01-03T12:00:00Z", "UTC", "2027-01-03", "2026-W53", "2027-01", "2027"],
    ["2027-01-04T12:00:00Z", "UTC", "2027-01-04", "2027-W01", "2027-01", "2027"],
    ["2021-01-03T12:00:00Z", "UTC", "2021-01-03", "2020-W53", "2021-01", "2021"],
    // A Sunday is the last day of its ISO week, a Monday the first.
    ["2026-11-15T23:59:59Z", "UTC", "2026-11-15", "2026-W46", "2026-11", "2026"],
    ["2026-11-16T00:00:00Z", "UTC", "2026-11-16", "2026-W47", "2026-11", "2026"],
  ])("%s in %s", (iso, timezone, daily, weekly, monthly, yearly) => {
    expect(localPeriods(new Date(iso), timezone)).toEqual({ daily, weekly, monthly, yearly });
  });
});

describe("formatLocalTime", () => {
  test("shows the local wall-clock time and its offset on either side of a DST change", () => {
    expect(formatLocalTime(new Date("2026-03-29T00:30:00Z"), "Europe/Paris")).toBe("2026-03-29 01:30 +01:00");
    expect(formatLocalTime(new Date("2026-03-29T01:30:00Z"), "Europe/Paris")).toBe("2026-03-29 03:30 +02:00");
    expect(formatLocalTime(new Date("2026-11-20T02:00:00Z"), "UTC")).toBe("2026-11-20 02:00 +00:00");
  });
});
