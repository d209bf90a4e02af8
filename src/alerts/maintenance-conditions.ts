/**
 * What the maintenance work raises and clears: a prune a guard rail refused, copies to another
 * destination falling behind the RPO, a monthly report that could not be delivered. Pure: the
 * caller applies the result to the incidents.
 */
import { snapshotIdTime } from "../catalog/layout";
import type { CopyReport } from "../copy";
import type { PruneReport } from "../prune";
import { HavenError } from "../lib/errors";
import { storageReachable, storageUnreachable } from "./conditions";
import { condition, incidentKey, type AlertEvent, type Condition } from "./events";

export interface IncidentChanges {
  raise: Condition[];
  clear: string[];
}

/** A refused prune raises `prune-refused` for its target; a prune of the target that ran clears it. */
export function pruneOutcome(report: PruneReport): IncidentChanges {
  if (report.dryRun) return { raise: [], clear: [] };
  const changes: IncidentChanges = { raise: [], clear: [] };
  const refused = new Set<string>();
  for (const result of report.results) {
    if (result.error?.code !== "REFUSED") continue;
    refused.add(result.target);
    changes.raise.push(
      condition({
        type: "prune-refused",
        target: result.target,
        destination: result.destination,
        since: report.now.toISOString(),
        summary: `prune of ${result.target} on ${result.destination} was refused and removed nothing: ${result.error.message}`,
        details: {
          destination: result.destination,
          ...(result.error.hint ? { why: result.error.hint } : {}),
        },
      }),
    );
  }
  for (const result of report.results) {
    if (!result.error && !refused.has(result.target))
      changes.clear.push(incidentKey({ type: "prune-refused", target: result.target }));
  }
  return { raise: changes.raise, clear: [...new Set(changes.clear)] };
}

/**
 * A copy that failed while a snapshot older than the target's RPO was still owed to the other
 * destination raises `copy-behind`: it no longer holds a recent enough recovery point. The age is the
 * oldest snapshot still owed, not the one that failed: copies go newest first, so a destination whose
 * writes fail (disk full) fails on the youngest snapshot every hour while the backlog ages. A run
 * without failures clears it. Younger backlogs only wait for the next retry: a short outage of the
 * off-site store is no alert. A destination that could not even be listed is `storage-unreachable`.
 */
export function copyOutcome(report: CopyReport, rpoMs: number, now: Date): IncidentChanges {
  const reachability = copyDestinationsReached(report, now);
  const key = incidentKey({ type: "copy-behind", target: report.target });
  if (report.failed.length === 0) return { raise: reachability.raise, clear: [key, ...reachability.clear] };
  const behind = copyBehind(report, rpoMs, now);
  return { raise: [...behind, ...reachability.raise], clear: reachability.clear };
}

/**
 * A destination whose snapshots could not be listed (or read) for a copy raises `storage-unreachable`
 * at once, as the watchdog does for a primary it cannot read: what it holds is unknown, so there is
 * no backlog to measure and `copy-behind` could never be raised. One that was listed clears it.
 */
function copyDestinationsReached(report: CopyReport, now: Date): IncidentChanges {
  const raise = report.failed
    .filter((f) => f.snapshotId === undefined && f.code !== "CANCELLED")
    .map((f) => storageUnreachable(f.to, new HavenError(f.code, f.message), now, report.target));
  return { raise, clear: report.listed.map((destination) => storageReachable(destination, report.target)) };
}

/** `copy-behind` for the oldest snapshot still owed past the RPO, if any. */
function copyBehind(report: CopyReport, rpoMs: number, now: Date): Condition[] {
  const behind = report.failed.flatMap((failure) => {
    const owed = failure.oldestPending ?? failure.snapshotId;
    if (owed === undefined) return [];
    const taken = snapshotIdTime(owed);
    return now.getTime() - taken.getTime() > rpoMs ? [{ failure, owed, taken }] : [];
  });
  const oldest = behind.sort((a, b) => a.taken.getTime() - b.taken.getTime())[0];
  if (!oldest) return [];
  const { failure, owed, taken } = oldest;
  return [
    condition({
      type: "copy-behind",
      target: report.target,
      destination: failure.to,
      since: new Date(taken.getTime() + rpoMs).toISOString(),
      summary: `snapshot ${owed} of ${report.target} is still not copied from ${report.from} to ${failure.to}, past the RPO: ${failure.message}`,
      details: {
        snapshot: owed,
        ...(failure.snapshotId && failure.snapshotId !== owed ? { failedAt: failure.snapshotId } : {}),
        destination: failure.to,
        code: failure.code,
      },
    }),
  ];
}

/**
 * The monthly report of `month` could not be delivered (after its retries): raises `report-failed`,
 * naming the month. Delivery clears it through `resolveReportFailed`, which needs the open incident.
 */
export function reportFailed(error: Error, month: string, now: Date): Condition {
  return condition({
    type: "report-failed",
    since: now.toISOString(),
    summary: `the monthly restore-test report of ${month} was not delivered: ${error.message}`,
    details: { month },
  });
}

/**
 * Whether a delivered report of `month` ends a `report-failed` incident: it is the month that failed,
 * or a later one (readers have a newer report). An incident that names no month (raised before the
 * month was recorded) is ended by any delivery.
 */
export function deliveryEndsReportFailure(event: AlertEvent, month: string): boolean {
  const failed = event.details?.month;
  return typeof failed !== "string" || failed <= month;
}

/** The key of the `report-failed` incident (one for the whole installation). */
export const REPORT_FAILED_KEY = incidentKey({ type: "report-failed" });
