/**
 * What `haven prune [TARGET] --dry-run [-o json]` prints: every snapshot with keep/remove and its reasons.
 * Pure string and object building; the CLI writes the result.
 */
import { formatLocalTime } from "./periods";
import type { PrunePlan } from "./plan-prune";
import type { RetentionDecision, RetentionEntry } from "./types";

/** One snapshot in the JSON output. */
export interface PruneJsonEntry {
  id: string;
  /** ISO 8601, UTC. */
  createdAt: string;
  tiers: string[];
  state: "committed" | "partial";
  reasons: string[];
}

/**
 * The JSON output (`-o json`), a contract for scripts. `keep` and `remove` are the policy's decision;
 * when `refused` is present a guard rail stopped the run and nothing is removed.
 */
export interface PruneJson {
  target: string;
  keep: PruneJsonEntry[];
  remove: PruneJsonEntry[];
  refused?: string;
}

export function pruneJson(target: string, decision: RetentionDecision, plan?: PrunePlan): PruneJson {
  const out: PruneJson = {
    target,
    keep: decision.keep.map(toJsonEntry),
    remove: decision.remove.map(toJsonEntry),
  };
  if (plan?.refused) out.refused = plan.reason;
  return out;
}

const HEADER = ["ID", "DATE", "TIERS", "ACTION", "REASONS"] as const;

/**
 * The table output: one row per snapshot, newest first, dates in the decision's timezone, then a summary
 * line and, when a guard rail refused the run, the refusal and what to do.
 */
export function pruneTable(target: string, decision: RetentionDecision, plan?: PrunePlan): string {
  const rows = decision.entries.map((entry) => [
    entry.snapshot.id,
    formatLocalTime(entry.snapshot.createdAt, decision.timezone),
    entry.snapshot.tiers.length > 0 ? entry.snapshot.tiers.join(",") : "-",
    entry.action,
    entry.reasons.join(", "),
  ]);
  const lines = [...alignColumns([[...HEADER], ...rows])];
  lines.push(
    `${target}: keep ${decision.keep.length}, remove ${decision.remove.length} (timezone ${decision.timezone})`,
  );
  if (plan?.refused) lines.push(`refused: ${plan.reason}`, `  hint: ${plan.hint}`);
  return `${lines.join("\n")}\n`;
}

/** Pads every column but the last to its widest cell, two spaces apart. */
function alignColumns(table: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of table) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return table.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

function toJsonEntry(entry: RetentionEntry): PruneJsonEntry {
  const { snapshot } = entry;
  return {
    id: snapshot.id,
    createdAt: Number.isNaN(snapshot.createdAt.getTime()) ? "invalid" : snapshot.createdAt.toISOString(),
    tiers: [...snapshot.tiers],
    state: snapshot.state,
    reasons: [...entry.reasons],
  };
}
