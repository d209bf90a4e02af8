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
 * One good snapshot: its data is as of `capturedAt` (the backup's start), and it can be restored from
 * `availableAt` (its finish). Until a newer one is available, the data at hand ages from `capturedAt`.
 */
export interface RecoveryPoint {
  capturedAt: Date;
  availableAt: Date;
}

/**
 * `points`: the recovery points (any order, any range). The gaps are those between consecutive
 * recovery points that reach into `[start, end)`: each runs from the data of the newest point at hand
 * (the newest available before `start`, or `start` itself when none is known) to the moment the next
 * becomes available, or to `end`. `trackedSince`: when Haven first saw the target; when it falls in
 * the period and no recovery point came before it, the time before it is not judged.
 */
export function analyseGaps(
  points: readonly RecoveryPoint[],
  start: Date,
  end: Date,
  rpoMs: number,
  options: { trackedSince?: Date } = {},
): GapAnalysis {
  const sorted = points
    .map((p) => ({ captured: p.capturedAt.getTime(), available: p.availableAt.getTime() }))
    .sort((a, b) => a.available - b.available);
  const before = sorted.filter((p) => p.available < start.getTime());
  const inside = sorted.filter((p) => p.available >= start.getTime() && p.available < end.getTime());

  // A target first seen inside the period, with no recovery point before it, is judged from then.
  const tracked = options.trackedSince?.getTime();
  const newThisPeriod = before.length === 0 && tracked !== undefined && tracked > start.getTime();
  if (newThisPeriod && tracked >= end.getTime()) return { worstGap: null, breachedMs: 0 };
  // The data at hand: captured when, and what stands for it (a snapshot, the month start, the sighting).
  let held: { at: number; edge: RpoGap["fromEdge"] } =
    before.length > 0
      ? { at: Math.max(...before.map((p) => p.captured)), edge: "snapshot" }
      : newThisPeriod
        ? { at: tracked, edge: "first-seen" }
        : { at: start.getTime(), edge: "month-start" };
  let segmentStart = newThisPeriod ? tracked : start.getTime();
  let worst: RpoGap | null = null;
  let breachedMs = 0;
  const close = (until: number, toEdge: RpoGap["toEdge"]) => {
    const ms = until - held.at;
    if (!worst || ms > worst.ms) {
      worst = {
        ms,
        from: new Date(held.at).toISOString(),
        to: new Date(until).toISOString(),
        fromEdge: held.edge,
        toEdge,
      };
    }
    // Out of compliance from `held + rpo` until the next recovery point is available, clipped to this
    // stretch of the period. When no recovery point is known before the month, the month start is
    // taken as the last one: what happened before the period is not this report's to judge.
    const breachStart = Math.max(held.at + rpoMs, segmentStart);
    if (until > breachStart) breachedMs += until - breachStart;
    segmentStart = until;
  };
  for (const point of inside) {
    close(point.available, "snapshot");
    // A snapshot that finishes with data older than what is at hand changes nothing.
    if (held.edge !== "snapshot" || point.captured > held.at) held = { at: point.captured, edge: "snapshot" };
  }
  close(end.getTime(), "month-end");
  return { worstGap: worst, breachedMs };
}
