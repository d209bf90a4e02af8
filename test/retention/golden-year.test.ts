/**
 * The acceptance golden test of issue 5: a year of daily snapshots with gaps, policy
 * {daily: 7, weekly: 4, monthly: 12, yearly: 2}, timezone UTC. The expected survivors were worked out by
 * hand from a calendar (reasoning in the comments), not computed by the code under test.
 */
import type { Tier } from "../../src/config/types";
import { applyRetention, REASON } from "../../src/retention";
import type { RetentionCandidate } from "../../src/retention";
import { DAY_MS, isoOf, kept, snap } from "./fixtures";

/**
 * Dataset: one snapshot a day at 02:00 UTC from Fri 2025-11-21 to Fri 2026-11-20 (365 days), except:
 * - 2025-12-29..31 missing: the newest of 2025 is Sun 2025-12-28;
 * - 2026-06-28..30 missing: the newest of June is 2026-06-27;
 * - all of August 2026 missing: a month without a snapshot does not count as one of the 12;
 * - Mon 2026-11-02..Sun 2026-11-08 (ISO week 2026-W45) missing: a week without a snapshot does not count;
 * - Tue 2026-11-17 missing: the 7 daily periods reach back to 2026-11-13.
 * Plus a manual snapshot at 2026-11-19T15:00Z. 365 - 45 missing + 1 manual = 321 snapshots.
 * Tiers: daily every day, plus weekly on Sundays and monthly on the 1st, except that the weekly run of
 * Sun 2026-10-25 was missed (that snapshot has the daily tier only): it must fill week 2026-W43 anyway.
 * States: 2026-11-20 is partial, everything else committed, so the newest committed is the manual one.
 * Verifications: 2026-11-18 failed, 2026-11-12 and 2026-10-03 passed: the newest verified is 2026-11-12.
 */
function yearOfSnapshots(): RetentionCandidate[] {
  const missing = new Set<string>([
    "2025-12-29",
    "2025-12-30",
    "2025-12-31",
    "2026-06-28",
    "2026-06-29",
    "2026-06-30",
    "2026-11-02",
    "2026-11-03",
    "2026-11-04",
    "2026-11-05",
    "2026-11-06",
    "2026-11-07",
    "2026-11-08",
    "2026-11-17",
  ]);
  const snapshots: RetentionCandidate[] = [];
  for (let t = Date.parse("2025-11-21T02:00:00Z"); t <= Date.parse("2026-11-20T02:00:00Z"); t += DAY_MS) {
    const at = new Date(t);
    const day = at.toISOString().slice(0, 10);
    if (missing.has(day) || day.startsWith("2026-08-")) continue;
    const tiers: Tier[] = ["daily"];
    if (at.getUTCDay() === 0 && day !== "2026-10-25") tiers.push("weekly");
    if (at.getUTCDate() === 1) tiers.push("monthly");
    const verifiedOk = { "2026-11-18": false, "2026-11-12": true, "2026-10-03": true }[day];
    snapshots.push(
      snap(isoOf(at), {
        tiers,
        state: day === "2026-11-20" ? "partial" : "committed",
        ...(verifiedOk === undefined ? {} : { verifiedOk }),
      }),
    );
  }
  snapshots.push(snap("2026-11-19T15:00:00Z", { tiers: ["manual"] }));
  return snapshots;
}

const policy = { daily: 7, weekly: 4, monthly: 12, yearly: 2 };
const now = new Date("2026-11-20T12:00:00Z");

/*
 * By hand, newest first:
 * - daily 7: the newest days with a snapshot are 11-20, 11-19 (the 15:00 manual one is the newest of that
 *   day), 11-18, 11-16 (11-17 is missing), 11-15, 11-14, 11-13.
 * - weekly 4 (ISO weeks, Monday first): W47 (Mon 11-16..) → 11-20; W46 (11-09..11-15) → Sun 11-15;
 *   W45 has no snapshot; W44 (10-26..11-01) → Sun 11-01; W43 (10-19..10-25) → Sun 10-25.
 * - monthly 12: 2026-11 → 11-20, 2026-10 → 10-31, 2026-09 → 09-30, (no August), 2026-07 → 07-31,
 *   2026-06 → 06-27, 2026-05 → 05-31, 2026-04 → 04-30, 2026-03 → 03-31, 2026-02 → 02-28 (not a leap year),
 *   2026-01 → 01-31, 2025-12 → 12-28, 2025-11 → 11-30: twelve months.
 * - yearly 2: 2026 → 11-20, 2025 → 12-28.
 * - guard rails: newest committed is the 11-19 manual one (11-20 is partial); newest verified is 11-12.
 */
const expectedSurvivors: Array<[string, string[]]> = [
  ["2026-11-20T02:00:00Z", ["daily 2026-11-20", "weekly 2026-W47", "monthly 2026-11", "yearly 2026"]],
  ["2026-11-19T15:00:00Z", ["daily 2026-11-19", "newest committed"]],
  ["2026-11-18T02:00:00Z", ["daily 2026-11-18"]],
  ["2026-11-16T02:00:00Z", ["daily 2026-11-16"]],
  ["2026-11-15T02:00:00Z", ["daily 2026-11-15", "weekly 2026-W46"]],
  ["2026-11-14T02:00:00Z", ["daily 2026-11-14"]],
  ["2026-11-13T02:00:00Z", ["daily 2026-11-13"]],
  ["2026-11-12T02:00:00Z", ["newest verified"]],
  ["2026-11-01T02:00:00Z", ["weekly 2026-W44"]],
  ["2026-10-31T02:00:00Z", ["monthly 2026-10"]],
  ["2026-10-25T02:00:00Z", ["weekly 2026-W43"]],
  ["2026-09-30T02:00:00Z", ["monthly 2026-09"]],
  ["2026-07-31T02:00:00Z", ["monthly 2026-07"]],
  ["2026-06-27T02:00:00Z", ["monthly 2026-06"]],
  ["2026-05-31T02:00:00Z", ["monthly 2026-05"]],
  ["2026-04-30T02:00:00Z", ["monthly 2026-04"]],
  ["2026-03-31T02:00:00Z", ["monthly 2026-03"]],
  ["2026-02-28T02:00:00Z", ["monthly 2026-02"]],
  ["2026-01-31T02:00:00Z", ["monthly 2026-01"]],
  ["2025-12-28T02:00:00Z", ["monthly 2025-12", "yearly 2025"]],
  ["2025-11-30T02:00:00Z", ["monthly 2025-11"]],
];

describe("golden: a year of daily snapshots with gaps", () => {
  const snapshots = yearOfSnapshots();

  test("the fixture has the 321 snapshots the hand count says", () => {
    expect(snapshots).toHaveLength(321);
  });

  test("keeps exactly the hand-worked survivors, with their reasons, newest first", () => {
    const decision = applyRetention(snapshots, policy, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual(expectedSurvivors);
    expect(decision.remove).toHaveLength(321 - 21);
    expect(decision.entries).toHaveLength(321);
    for (const entry of decision.remove) expect(entry.reasons).toEqual([REASON.removed]);
  });

  test("the same year seen from Europe/Paris keeps the same snapshots (02:00 UTC is the same local day)", () => {
    const decision = applyRetention(snapshots, policy, now, { timezone: "Europe/Paris" });
    expect(kept(decision)).toEqual(expectedSurvivors);
  });

  test("input order does not matter and the input is not modified", () => {
    const shuffled = [...snapshots].reverse();
    shuffled.push(...shuffled.splice(0, 100));
    const before = shuffled.map((s) => s.id);
    const decision = applyRetention(shuffled, policy, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual(expectedSurvivors);
    expect(shuffled.map((s) => s.id)).toEqual(before);
  });
});
