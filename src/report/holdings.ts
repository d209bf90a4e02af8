/**
 * What the destinations hold for a target at the end of the period: storage used and its growth,
 * copies per destination, and retention as configured against what is present. Pure functions of what
 * `readTarget` listed; retention decisions are src/retention's `applyRetention`.
 */
import type { Manifest } from "../catalog/manifest";
import type { TargetConfig } from "../config/types";
import { formatDuration } from "../lib/duration";
import { applyRetention, PERIOD_UNITS } from "../retention";
import type { VerificationRecord } from "../verify/record";
import type { TargetBucketData } from "./read";
import type { CopyFigures, RetentionFigures, StorageFigures } from "./types";

/** At most this many incompletely copied snapshots are listed by id. */
const MAX_LISTED_INCOMPLETE = 20;

/** The period as these figures read it. */
export interface HoldingsPeriod {
  start: Date;
  end: Date;
}

/** Bytes of the snapshots present at `cutoff` (finished before it) on one destination, or on all. */
function bytesAt(
  data: TargetBucketData,
  cutoff: Date,
  destination?: string,
): { bytes: number; snapshots: number } {
  const finished = new Map(data.manifests.map((m) => [m.id, new Date(m.finishedAt).getTime()]));
  const counted = new Set<string>();
  let bytes = 0;
  for (const object of data.objects) {
    if (destination !== undefined && object.destination !== destination) continue;
    const finishedAt = finished.get(object.snapshotId);
    if (finishedAt === undefined || finishedAt >= cutoff.getTime()) continue;
    if (!(data.presence.get(object.snapshotId) ?? []).includes(object.destination)) continue;
    if (object.recordAt && object.recordAt.getTime() >= cutoff.getTime()) continue;
    bytes += object.size;
    counted.add(object.snapshotId);
  }
  return { bytes, snapshots: counted.size };
}

export function storageFigures(
  data: TargetBucketData,
  period: HoldingsPeriod,
  previousStoredBytes: number | null,
): StorageFigures {
  const now = bytesAt(data, period.end);
  // Snapshots pruned since the previous month end are gone from the bucket: the figure the previous
  // report recorded is the better one when it exists.
  const previousBytes = previousStoredBytes ?? bytesAt(data, period.start).bytes;
  const growthBytes = now.bytes - previousBytes;
  return {
    bytes: now.bytes,
    snapshots: now.snapshots,
    previousBytes,
    previousFrom: previousStoredBytes === null ? "bucket" : "stored-report",
    growthBytes,
    growthPercent: previousBytes > 0 ? Math.round((1000 * growthBytes) / previousBytes) / 10 : null,
  };
}

export function copyFigures(
  target: TargetConfig,
  data: TargetBucketData,
  period: HoldingsPeriod,
  snapshots: readonly Manifest[],
): CopyFigures {
  // A snapshot pruned from a destination was there until then: it counts as copied.
  const holdersOf = (id: string) => [...(data.presence.get(id) ?? []), ...(data.pruned.get(id) ?? [])];
  const incomplete: CopyFigures["incomplete"] = [];
  let onEveryDestination = 0;
  for (const m of snapshots) {
    const holders = holdersOf(m.id);
    const missingOn = target.destinations.filter((d) => !holders.includes(d));
    if (missingOn.length === 0) onEveryDestination += 1;
    else if (incomplete.length < MAX_LISTED_INCOMPLETE) incomplete.push({ id: m.id, missingOn });
  }
  return {
    destinations: target.destinations.map((name) => {
      const present = snapshots.filter((m) => holdersOf(m.id).includes(name)).length;
      return {
        name,
        present,
        missing: snapshots.length - present,
        bytes: bytesAt(data, period.end, name).bytes,
      };
    }),
    onEveryDestination,
    incomplete,
  };
}

export function retentionFigures(
  target: TargetConfig,
  data: TargetBucketData,
  period: HoldingsPeriod,
  timezone: string,
  records: readonly VerificationRecord[],
): RetentionFigures {
  const first = target.destinations[0];
  const lastResult = new Map<string, string>();
  for (const r of records) lastResult.set(r.snapshotId, r.result);
  const candidates = data.manifests
    .filter((m) => new Date(m.finishedAt).getTime() < period.end.getTime())
    .filter((m) => first === undefined || (data.presence.get(m.id) ?? []).includes(first))
    .map((m) => ({
      id: m.id,
      createdAt: new Date(m.startedAt),
      tiers: m.tiers,
      state: m.state,
      verifiedOk: lastResult.get(m.id) === "passed",
    }));
  const decision = applyRetention(candidates, target.retention, period.end, { timezone });
  const filled = (prefix: string) =>
    decision.keep.filter((e) => e.reasons.some((r) => r.startsWith(`${prefix} `))).length;

  const rules: RetentionFigures["rules"] = [];
  if (target.retention.last)
    rules.push({ rule: "last", configured: target.retention.last, filled: filled("last") });
  for (const unit of PERIOD_UNITS) {
    const count = target.retention[unit];
    if (count) rules.push({ rule: unit, configured: count, filled: filled(unit) });
  }
  if (target.retention.within) {
    rules.push({
      rule: "within",
      configured: formatDuration(target.retention.within),
      filled: filled("within"),
    });
  }
  return {
    configured: target.retention,
    present: candidates.length,
    rules,
    beyondPolicy: decision.remove.length,
  };
}
