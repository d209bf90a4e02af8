/**
 * The month-scoped view of the RPO: how long, at worst, the target went without a fresh recovery
 * point during the period, and for how long the RPO was broken. src/slo answers "is the RPO met now";
 * this answers "was it met all month". Pure functions.
 */
import type { RpoGap } from "./types";

export interface GapAnalysis {
  worstGap: RpoGap | null;
  /** Time of `[start, end)` during which the newest recovery point was older than `rpoMs`. */
  breachedMs: number;
}

/**
 * `finishedTimes`: when each recovery point became available (any order, any range). The gaps are
 * those between consecutive recovery points that reach into `[start, end)`: the first runs from the
 * newest recovery point before `start` (or from `start` when none is known), the last to `end`.
 */
export function analyseGaps(
  finishedTimes: readonly Date[],
  start: Date,
  end: Date,
  rpoMs: number,
): GapAnalysis {
  const times = finishedTimes.map((d) => d.getTime()).sort((a, b) => a - b);
  const before = times.filter((t) => t < start.getTime()).at(-1);
  const inside = times.filter((t) => t >= start.getTime() && t < end.getTime());

  const points: Array<{ at: number; edge: "snapshot" | "month-start" | "month-end" }> = [
    before === undefined ? { at: start.getTime(), edge: "month-start" } : { at: before, edge: "snapshot" },
    ...inside.map((at) => ({ at, edge: "snapshot" as const })),
    { at: end.getTime(), edge: "month-end" },
  ];

  let worst: RpoGap | null = null;
  let breachedMs = 0;
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1] as (typeof points)[number];
    const to = points[i] as (typeof points)[number];
    const ms = to.at - from.at;
    if (!worst || ms > worst.ms) {
      worst = {
        ms,
        from: new Date(from.at).toISOString(),
        to: new Date(to.at).toISOString(),
        fromEdge: from.edge === "snapshot" ? "snapshot" : "month-start",
        toEdge: to.edge === "month-end" ? "month-end" : "snapshot",
      };
    }
    // Out of compliance from `from + rpo` until the next recovery point, clipped to the period. When
    // no recovery point is known before the month, the month start is taken as the last one: what
    // happened before the period is not this report's to judge.
    const breachStart = Math.max(from.at + rpoMs, start.getTime());
    if (to.at > breachStart) breachedMs += to.at - breachStart;
  }
  return { worstGap: worst, breachedMs };
}
