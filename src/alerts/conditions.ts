/**
 * Turns evaluations and run results into alert conditions. The watchdog evaluates every target from
 * the destination and passes `conditionsFromEvaluation` to `IncidentManager.reconcile` with scope
 * `EVALUATED_EVENTS`; the backup job applies `backupOutcome` after each run.
 */
import { formatDuration } from "../lib/duration";
import { describeError, isHavenError } from "../lib/errors";
import type { BackupResult } from "../engine/types";
import type { TargetEvaluation } from "../slo/types";
import { condition, incidentKey, type AlertEventType, type Condition } from "./events";

/** The events an evaluation of the destination decides on: it raises them when they hold and clears them when not. */
export const EVALUATED_EVENTS: readonly AlertEventType[] = [
  "rpo-breached",
  "missed-schedule",
  "missed-verification",
  "verification-failed",
  "rto-breached",
  "rto-at-risk",
];

/** The conditions that hold for one evaluated target (empty when all is well). */
export function conditionsFromEvaluation(evaluation: TargetEvaluation): Condition[] {
  const { target, rpo, rto } = evaluation;
  const out: Condition[] = [];
  const at = evaluation.evaluatedAt;

  if (rpo.status === "breached") {
    out.push(
      condition({
        type: "rpo-breached",
        target,
        since: (rpo.since ?? at).toISOString(),
        summary: rpo.reason,
        details: {
          RPO: formatDuration(rpo.rpoMs),
          ...(rpo.newest
            ? {
                "newest good snapshot": rpo.newest.id,
                // The age counts from here: the data is as old as the backup's start, not its finish.
                "data as of": rpo.newest.startedAt.toISOString(),
                "newest finished": rpo.newest.finishedAt.toISOString(),
              }
            : { "newest good snapshot": "none" }),
          ...(rpo.newestAgeMs === null ? {} : { age: formatDuration(rpo.newestAgeMs) }),
        },
      }),
    );
  }

  const firstMissed = rpo.missedSchedules[0];
  if (firstMissed) {
    out.push(
      condition({
        type: "missed-schedule",
        target,
        since: firstMissed.at.toISOString(),
        summary: `${rpo.missedSchedules.length} scheduled backup(s) of ${target} did not produce a snapshot`,
        details: {
          missed: rpo.missedSchedules
            .slice(-5)
            .map((m) => `${m.at.toISOString()} (${m.pattern})`)
            .join(", "),
        },
      }),
    );
  }

  const firstUnverified = evaluation.missedVerifications[0];
  if (firstUnverified) {
    const last = evaluation.lastVerification;
    out.push(
      condition({
        type: "missed-verification",
        target,
        since: firstUnverified.at.toISOString(),
        summary: `${evaluation.missedVerifications.length} scheduled verification(s) of ${target} left no record`,
        details: {
          missed: evaluation.missedVerifications
            .slice(-5)
            .map((m) => m.at.toISOString())
            .join(", "),
          "last restore test":
            evaluation.rto.lastMs === null ? "none" : formatDuration(evaluation.rto.lastMs),
          ...(last ? { "newest verification": last.finishedAt.toISOString() } : {}),
        },
      }),
    );
  }

  const verification = evaluation.lastVerification;
  // A verification that failed only its freshness guard is the RPO breach, alerted as such.
  if (verification?.result === "failed" && !verification.stale) {
    const failed = verification.failedChecks ?? [];
    out.push(
      condition({
        type: "verification-failed",
        target,
        since: verification.finishedAt.toISOString(),
        summary: `the ${verification.kind === "restore" ? "restore test" : "integrity check"} of snapshot ${verification.snapshotId} failed${verification.error ? `: ${verification.error.message}` : ""}`,
        details: {
          snapshot: verification.snapshotId,
          kind: verification.kind,
          ...(failed.length > 0 ? { "failed checks": failed.join("; ") } : {}),
        },
      }),
    );
  }

  if (rto.status === "breached" || rto.status === "at-risk") {
    out.push(
      condition({
        type: rto.status === "breached" ? "rto-breached" : "rto-at-risk",
        target,
        since: (rto.since ?? at).toISOString(),
        summary: rto.reason,
        details: {
          RTO: formatDuration(rto.rtoMs),
          ...(rto.lastMs === null ? {} : { "last restore test": formatDuration(rto.lastMs) }),
          ...(rto.forecastMs === null ? {} : { forecast: formatDuration(rto.forecastMs) }),
        },
      }),
    );
  }
  return out;
}

/** What one backup run raises and clears: a committed run clears both backup-failed and backup-partial. */
export function backupOutcome(result: BackupResult): { raise: Condition[]; clear: string[] } {
  const target = result.target;
  const failedKey = incidentKey({ type: "backup-failed", target });
  const partialKey = incidentKey({ type: "backup-partial", target });
  switch (result.state) {
    case "committed":
      return { raise: [], clear: [failedKey, partialKey] };
    case "partial":
      return {
        raise: [
          condition({
            type: "backup-partial",
            target,
            since: result.finishedAt,
            summary: `snapshot ${result.snapshotId ?? "?"} of ${target} is usable but partial: ${result.warnings.length} warning(s)`,
            details: {
              ...(result.snapshotId ? { snapshot: result.snapshotId } : {}),
              warnings: result.warnings.slice(0, 5).join("; "),
            },
          }),
        ],
        // A usable snapshot was written, so the target's backups work again.
        clear: [failedKey],
      };
    case "failed":
      return {
        raise: [
          condition({
            type: "backup-failed",
            target,
            since: result.finishedAt,
            summary: `the backup of ${target} failed: ${result.error?.message ?? "unknown error"}`,
            details: {
              ...(result.error ? { code: result.error.code } : {}),
              ...(result.error?.hint ? { "error hint": result.error.hint } : {}),
            },
          }),
        ],
        clear: [],
      };
    case "skipped":
      return { raise: [], clear: [] };
  }
}

/**
 * A destination that could not be listed or read. Clear it with `storageReachable` when it answers
 * again. With `target`, what failed was that target's part of it (a copy lists one target's prefix):
 * its own incident, which only the same target's copies clear, so that a prefix the key may not list
 * and the rest of the destination, which answers, do not raise and clear one alert in turn.
 */
export function storageUnreachable(
  destination: string,
  error: unknown,
  now: Date,
  target?: string,
): Condition {
  return condition({
    type: "storage-unreachable",
    destination,
    ...(target === undefined ? {} : { target }),
    since: now.toISOString(),
    summary: `destination ${destination} cannot be reached${target === undefined ? "" : ` for the snapshots of ${target}`}: ${describeError(error).split("\n")[0]}`,
    details: isHavenError(error) ? { code: error.code } : {},
  });
}

export function storageReachable(destination: string, target?: string): string {
  return incidentKey({
    type: "storage-unreachable",
    destination,
    ...(target === undefined ? {} : { target }),
  });
}
