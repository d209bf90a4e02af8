/** Guard rails of a whole prune run: refuse to delete everything, or too much at once. */
import { isHavenError } from "../../src/lib/errors";
import { applyRetention, planPrune, refusalError } from "../../src/retention";
import type { RetentionDecision, RetentionEntry } from "../../src/retention";
import { DAY_MS, isoOf, snap } from "./fixtures";

const now = new Date("2026-11-20T12:00:00Z");

/** Twelve daily snapshots, 2026-11-09 .. 2026-11-20 at 02:00Z. */
function twelveDays() {
  return Array.from({ length: 12 }, (_, i) =>
    snap(isoOf(new Date(Date.parse("2026-11-20T02:00:00Z") - i * DAY_MS))),
  );
}

/**
 * A decision that removes every snapshot. `applyRetention` never produces one (its guard rails keep at
 * least the newest), so it is built by hand: planPrune must stand on its own as a second line of defence.
 */
function removeEverything(): RetentionDecision {
  const entries: RetentionEntry[] = twelveDays().map((snapshot) => ({
    snapshot,
    action: "remove",
    reasons: ["no rule keeps it"],
  }));
  return { now, timezone: "UTC", policy: {}, entries, keep: [], remove: entries };
}

describe("planPrune", () => {
  test("refuses a run that would delete every snapshot, in plain words, whatever the allowed share", () => {
    const plan = planPrune(removeEverything(), { maxRemoveShare: 1, target: "orders-db" });
    expect(plan).toEqual({
      refused: true,
      reason: "would delete all 12 snapshots of orders-db; refusing",
      hint: expect.stringContaining("check the retention policy") as unknown,
      wouldRemove: 12,
      total: 12,
    });
  });

  test("without a target name the message still reads", () => {
    const plan = planPrune(removeEverything(), { maxRemoveShare: 1 });
    expect(plan.refused && plan.reason).toBe("would delete all 12 snapshots; refusing");
  });

  test("refuses a run that would delete more than the allowed share", () => {
    // last 3 keeps 3 of 12: 9 removals = 75% > 50%.
    const decision = applyRetention(twelveDays(), { last: 3 }, now, { timezone: "UTC" });
    const plan = planPrune(decision, { maxRemoveShare: 0.5, target: "orders-db" });
    expect(plan.refused).toBe(true);
    if (!plan.refused) return;
    expect(plan.reason).toBe(
      "would delete 9 of 12 snapshots of orders-db (75%), more than the allowed 50% at once; refusing",
    );
    expect(plan.wouldRemove).toBe(9);
    expect(plan.total).toBe(12);

    const error = refusalError(plan);
    expect(isHavenError(error, "REFUSED")).toBe(true);
    expect(error.message).toBe(plan.reason);
    expect(error.hint).toBe(plan.hint);
  });

  test("approves a run that removes exactly the allowed share, and hands back the decision's lists", () => {
    // last 6 keeps 6 of 12: 6 removals = 50%, not more than 50%.
    const decision = applyRetention(twelveDays(), { last: 6 }, now, { timezone: "UTC" });
    const plan = planPrune(decision, { maxRemoveShare: 0.5, target: "orders-db" });
    expect(plan).toEqual({ refused: false, remove: decision.remove, keep: decision.keep });
    expect(plan.refused === false && plan.remove.map((e) => isoOf(e.snapshot.createdAt))).toEqual([
      "2026-11-14T02:00:00Z",
      "2026-11-13T02:00:00Z",
      "2026-11-12T02:00:00Z",
      "2026-11-11T02:00:00Z",
      "2026-11-10T02:00:00Z",
      "2026-11-09T02:00:00Z",
    ]);
  });

  test("a share of 0 refuses any removal but approves a run that removes nothing", () => {
    const removing = applyRetention(twelveDays(), { last: 11 }, now, { timezone: "UTC" });
    const plan = planPrune(removing, { maxRemoveShare: 0 });
    expect(plan.refused && plan.reason).toBe(
      "would delete 1 of 12 snapshots (8.3%), more than the allowed 0% at once; refusing",
    );
    const keepingAll = applyRetention(twelveDays(), { last: 12 }, now, { timezone: "UTC" });
    expect(planPrune(keepingAll, { maxRemoveShare: 0 })).toEqual({
      refused: false,
      remove: [],
      keep: keepingAll.keep,
    });
  });

  test("a target without snapshots has nothing to refuse", () => {
    const decision = applyRetention([], { daily: 7 }, now, { timezone: "UTC" });
    expect(planPrune(decision, { maxRemoveShare: 0.5 })).toEqual({ refused: false, remove: [], keep: [] });
  });

  test.each([[-0.1], [1.5], [Number.NaN]])("a share of %s is a config error", (share) => {
    expect(() => planPrune(removeEverything(), { maxRemoveShare: share })).toThrow(
      `maxRemoveShare must be between 0 and 1, got ${share}`,
    );
  });
});
