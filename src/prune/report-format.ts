/**
 * How a prune run reads: `haven prune [-o json]` and its dry run. Each target on each destination is
 * the retention module's own output (pruneJson / pruneTable: every snapshot with keep/remove and its
 * reasons), plus what only a run against a destination can know: Object Lock, unreadable manifests,
 * what was removed, what failed; then the orphans.
 */
import { pruneJson, pruneTable, type PruneJson } from "../retention";
import { lockJson, lockedReason } from "./locks";
import type { PruneFailure } from "./remove";
import type { PruneReport, RunError } from "./run";

/** One target on one destination in the JSON output. */
export interface PruneResultJson extends Partial<PruneJson> {
  target: string;
  destination: string;
  /** Snapshots the policy removes that Object Lock keeps until the given time (ISO 8601). */
  locked: Array<{ id: string; until?: string; legalHold?: true }>;
  unreadable: Array<{ id: string; error: string }>;
  /** Executed runs only: what was removed and what failed. */
  removed?: string[];
  failed?: PruneFailure[];
  error?: RunError;
}

export interface OrphanJson {
  destination: string;
  target: string;
  snapshots: string[];
  action: "keep" | "remove";
  keptBecause?: string;
  locked: Array<{ id: string; until?: string; legalHold?: true }>;
  removed?: string[];
  failed?: PruneFailure[];
}

/** The JSON output of `haven prune -o json` (a contract for scripts). */
export interface PruneReportJson {
  dryRun: boolean;
  /** The instant the run decided for (ISO 8601). */
  now: string;
  results: PruneResultJson[];
  orphans: OrphanJson[];
  orphanScanErrors: Array<RunError & { destination: string }>;
}

export function pruneReportJson(report: PruneReport): PruneReportJson {
  return {
    dryRun: report.dryRun,
    now: report.now.toISOString(),
    results: report.results.map((result) => {
      const plan = result.plan;
      return {
        ...(plan ? pruneJson(result.target, plan.decision, plan.plan) : {}),
        target: result.target,
        destination: result.destination,
        locked: (plan?.locked ?? []).map(({ id, ...lock }) => ({ id, ...lockJson(lock) })),
        unreadable: [...(plan?.unreadable ?? [])],
        ...(report.dryRun ? {} : { removed: [...result.removed], failed: [...result.failed] }),
        ...(result.error ? { error: result.error } : {}),
      };
    }),
    orphans: report.orphans.map((orphan) => ({
      destination: orphan.destination,
      target: orphan.target,
      snapshots: [...orphan.snapshots],
      action: orphan.action,
      ...(orphan.keptBecause ? { keptBecause: orphan.keptBecause } : {}),
      locked: orphan.locked.map(({ id, ...lock }) => ({ id, ...lockJson(lock) })),
      ...(report.dryRun ? {} : { removed: [...orphan.removed], failed: [...orphan.failed] }),
    })),
    orphanScanErrors: [...report.orphanScanErrors],
  };
}

/** The text output: one block per target and destination, then the orphans. */
export function pruneReportTable(report: PruneReport): string {
  const blocks: string[] = [];
  for (const result of report.results) {
    const lines = [
      `== ${result.target} on ${result.destination}${report.dryRun ? " (dry run: nothing removed)" : ""}`,
    ];
    if (result.plan) lines.push(pruneTable(result.target, result.plan.decision, result.plan.plan).trimEnd());
    for (const { id, ...lock } of result.plan?.locked ?? []) lines.push(`kept: ${id} ${lockedReason(lock)}`);
    for (const { id, error } of result.plan?.unreadable ?? [])
      lines.push(`kept: ${id} has an unreadable manifest: ${error}`);
    if (!report.dryRun && result.plan && !result.error)
      lines.push(`removed ${result.removed.length} snapshots`);
    for (const failure of result.failed) lines.push(...failureLines(failure));
    if (result.error && result.error.code !== "REFUSED") lines.push(...errorLines(result.error));
    blocks.push(lines.join("\n"));
  }
  for (const orphan of report.orphans) {
    const lines = [
      `== orphan ${orphan.target} on ${orphan.destination}: ${orphan.snapshots.length} snapshots of a target that is not in the config`,
    ];
    if (orphan.keptBecause) lines.push(`kept: ${orphan.keptBecause}`);
    else if (orphan.action === "keep") lines.push("kept (remove them with: haven prune --orphans)");
    else if (report.dryRun) lines.push(`would remove ${orphan.snapshots.length - orphan.locked.length}`);
    else lines.push(`removed ${orphan.removed.length}`);
    for (const { id, ...lock } of orphan.locked) lines.push(`kept: ${id} ${lockedReason(lock)}`);
    for (const failure of orphan.failed) lines.push(...failureLines(failure));
    blocks.push(lines.join("\n"));
  }
  for (const scan of report.orphanScanErrors) {
    blocks.push([`== orphan scan of ${scan.destination}`, ...errorLines(scan)].join("\n"));
  }
  return blocks.length === 0 ? "nothing to prune\n" : `${blocks.join("\n\n")}\n`;
}

function failureLines(failure: PruneFailure): string[] {
  return [
    `failed: ${failure.id} at its ${failure.stage}: ${failure.message}`,
    ...(failure.hint ? [`  hint: ${failure.hint}`] : []),
  ];
}

function errorLines(error: RunError): string[] {
  return [`error: ${error.code}: ${error.message}`, ...(error.hint ? [`  hint: ${error.hint}`] : [])];
}
