/** The report's pure month-scoped logic, against fixed expected results. */
import { DateTime } from "luxon";
import { analyseGaps } from "../../src/report/rpo-gaps";
import { matchFirings } from "../../src/report/schedule";
import { monthBounds, monthsEndingWith, previousMonth } from "../../src/report/month";

const H = 3_600_000;
const utc = (iso: string) => new Date(iso);
/** Recovery points of instantaneous backups (captured and available at once). */
const instant = (dates: Date[]) => dates.map((d) => ({ capturedAt: d, availableAt: d }));

describe("months in the config's timezone", () => {
  test("a month's bounds are local midnights, whatever the DST change inside it", () => {
    const october = monthBounds("2026-10", "Europe/Paris");
    expect(october.start.toISOString()).toBe("2026-09-30T22:00:00.000Z");
    expect(october.end.toISOString()).toBe("2026-10-31T23:00:00.000Z");
    expect(october.end.getTime() - october.start.getTime()).toBe(745 * H);
  });

  test("the previous month is the local one: just after midnight on Nov 1 in Paris is still Oct 31 in UTC", () => {
    const now = utc("2026-10-31T23:30:00Z");
    expect(previousMonth(now, "Europe/Paris")).toBe("2026-10");
    expect(previousMonth(now, "UTC")).toBe("2026-09");
    expect(previousMonth(utc("2027-01-15T12:00:00Z"), "UTC")).toBe("2026-12");
  });

  test("the trend window runs across a year boundary", () => {
    expect(monthsEndingWith("2027-02", 6)).toEqual([
      "2026-09",
      "2026-10",
      "2026-11",
      "2026-12",
      "2027-01",
      "2027-02",
    ]);
  });
});

describe("analyseGaps", () => {
  const start = utc("2026-10-01T00:00:00Z");
  const end = utc("2026-10-31T00:00:00Z"); // 30 days

  test("no recovery point at all: one gap as long as the month, breached from start + RPO", () => {
    const result = analyseGaps([], start, end, 26 * H);
    expect(result.worstGap).toEqual({
      ms: 720 * H,
      from: start.toISOString(),
      to: end.toISOString(),
      fromEdge: "month-start",
      toEdge: "month-end",
    });
    expect(result.breachedMs).toBe(720 * H - 26 * H);
  });

  test("the first gap starts at the recovery point before the month, and only its part inside counts as breach", () => {
    const result = analyseGaps(
      instant([utc("2026-09-29T00:00:00Z"), utc("2026-10-02T00:00:00Z"), utc("2026-10-30T12:00:00Z")]),
      start,
      end,
      26 * H,
    );
    // Sep 29 → Oct 2 is 72h; it was out of compliance from Sep 30 02:00, but only Oct 1-2 (24h) is this month's.
    // Oct 2 → Oct 30 12:00 is the worst gap: 684h, breached for 658h.
    expect(result.worstGap).toMatchObject({ ms: 684 * H, fromEdge: "snapshot", toEdge: "snapshot" });
    expect(result.breachedMs).toBe(24 * H + 658 * H);
  });

  test("the last gap runs to the end of the period", () => {
    const result = analyseGaps(
      instant([utc("2026-10-01T00:00:00Z"), utc("2026-10-02T00:00:00Z")]),
      start,
      end,
      26 * H,
    );
    expect(result.worstGap).toMatchObject({
      ms: 696 * H,
      from: "2026-10-02T00:00:00.000Z",
      toEdge: "month-end",
    });
  });

  test("the data at hand ages from its backup's start: long backups breach before their finish says so", () => {
    // Each daily backup starts at 02:00 and takes 3 hours, so even on a normal day the data at hand is
    // 27h old when the next one finishes: 1h over a 26h RPO (Oct 9 04:00-05:00). Oct 10's is missing:
    // from Oct 9 02:00 (its data) to Oct 11 05:00 (when the next could be restored) the data aged
    // 51h, 25h of them over the RPO. Counted from the finishes it would be 48h, and 22h of breach.
    const points = [8, 9, 11].map((day) => ({
      capturedAt: utc(`2026-10-${String(day).padStart(2, "0")}T02:00:00Z`),
      availableAt: utc(`2026-10-${String(day).padStart(2, "0")}T05:00:00Z`),
    }));
    const result = analyseGaps(points, utc("2026-10-08T06:00:00Z"), utc("2026-10-11T06:00:00Z"), 26 * H);
    expect(result.worstGap).toEqual({
      ms: 51 * H,
      from: "2026-10-09T02:00:00.000Z",
      to: "2026-10-11T05:00:00.000Z",
      fromEdge: "snapshot",
      toEdge: "snapshot",
    });
    expect(result.breachedMs).toBe(1 * H + 25 * H);
  });

  test("daily snapshots within the RPO: no breach", () => {
    const daily = Array.from(
      { length: 32 },
      (_, i) => new Date(utc("2026-09-30T02:00:00Z").getTime() + i * 24 * H),
    );
    const result = analyseGaps(instant(daily), start, end, 26 * H);
    expect(result.breachedMs).toBe(0);
    expect(result.worstGap?.ms).toBe(24 * H);
  });
});

describe("matchFirings", () => {
  const target = { name: "app", schedule: { daily: "0 2 * * *", weekly: "0 3 * * 0" } };
  const start = utc("2026-10-01T00:00:00Z");
  const end = utc("2026-10-08T00:00:00Z");
  const snap = (id: string, iso: string, tiers: string[] = ["daily"]) => ({ id, startedAt: utc(iso), tiers });

  test("each firing is answered by a snapshot of its tier started before the next firing", () => {
    const firings = matchFirings(target, "UTC", { start, end, until: end }, [
      snap("d1", "2026-10-01T02:00:05Z"),
      snap("d2", "2026-10-02T09:00:00Z"), // late, but before the next firing
      // Oct 3: none
      snap("d4a", "2026-10-04T02:00:05Z"),
      snap("d4b", "2026-10-04T02:30:00Z"), // a second run the same day answers nothing more
      // Oct 5: none (d4b does not carry over)
      snap("d6", "2026-10-06T02:00:05Z"),
      snap("d7", "2026-10-07T02:00:05Z"),
      snap("w4", "2026-10-04T03:00:05Z", ["weekly"]),
    ]);
    expect(firings.map((f) => [f.at.toISOString().slice(5, 16), f.tier, f.answeredBy])).toEqual([
      ["10-01T02:00", "daily", "d1"],
      ["10-02T02:00", "daily", "d2"],
      ["10-03T02:00", "daily", null],
      ["10-04T02:00", "daily", "d4a"],
      ["10-04T03:00", "weekly", "w4"],
      ["10-05T02:00", "daily", null],
      ["10-06T02:00", "daily", "d6"],
      ["10-07T02:00", "daily", "d7"],
    ]);
  });

  test("firings after `until` are not due yet (a month in progress)", () => {
    const firings = matchFirings(target, "UTC", { start, end, until: utc("2026-10-03T01:00:00Z") }, []);
    expect(firings.map((f) => f.at.toISOString())).toEqual([
      "2026-10-01T02:00:00.000Z",
      "2026-10-02T02:00:00.000Z",
    ]);
  });

  test("patterns are read in the configured timezone, across a DST change", () => {
    const paris = monthBounds("2026-10", "Europe/Paris");
    const firings = matchFirings(
      { name: "app", schedule: { daily: "0 1 * * *" } },
      "Europe/Paris",
      { start: paris.start, end: paris.end, until: paris.end },
      [],
    );
    expect(firings).toHaveLength(31);
    const local = firings.map((f) => DateTime.fromJSDate(f.at, { zone: "Europe/Paris" }).toFormat("HH:mm"));
    expect(new Set(local)).toEqual(new Set(["01:00"]));
  });
});
