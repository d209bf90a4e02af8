/**
 * Guard rails for a whole prune run (offen/docker-volume-backup's "refuse to delete every backup", in plain
 * words). `applyRetention` decides per snapshot; this decides whether the run as a whole may go ahead.
 */
import { HavenError } from "../lib/errors";
import type { RetentionDecision, RetentionEntry } from "./types";

export interface PlanPruneOptions {
  /**
   * The largest share of a target's snapshots one run may remove, from 0 to 1 (0.5 = half). A run that
   * would remove more is refused. A run that would remove every snapshot is refused whatever this says.
   */
  maxRemoveShare: number;
  /** The target's name, for the refusal message ("... of orders-db; refusing"). */
  target?: string;
}

/** A run that may go ahead: remove exactly `remove`, keep the rest. */
export interface PruneApproved {
  readonly refused: false;
  readonly remove: readonly RetentionEntry[];
  readonly keep: readonly RetentionEntry[];
}

/** A run a guard rail stopped: nothing may be removed. Alert with `reason`. */
export interface PruneRefused {
  readonly refused: true;
  /** What would have happened, in plain words: "would delete all 12 snapshots of orders-db; refusing". */
  readonly reason: string;
  /** What the operator should do next. */
  readonly hint: string;
  /** How many snapshots the decision would have removed, of how many. */
  readonly wouldRemove: number;
  readonly total: number;
}

export type PrunePlan = PruneApproved | PruneRefused;

/** Approves or refuses the removals of one decision. Pure; throws only for an invalid `maxRemoveShare`. */
export function planPrune(decision: RetentionDecision, opts: PlanPruneOptions): PrunePlan {
  const { maxRemoveShare } = opts;
  if (!(Number.isFinite(maxRemoveShare) && maxRemoveShare >= 0 && maxRemoveShare <= 1)) {
    throw new HavenError("CONFIG", `maxRemoveShare must be between 0 and 1, got ${maxRemoveShare}`, {
      hint: "give the share as a fraction, e.g. 0.5 for half of a target's snapshots",
    });
  }
  const total = decision.entries.length;
  const wouldRemove = decision.remove.length;
  const of = opts.target === undefined ? "" : ` of ${opts.target}`;

  if (total > 0 && wouldRemove === total) {
    return {
      refused: true,
      reason: `would delete all ${total} snapshots${of}; refusing`,
      hint: "check the retention policy in haven.yaml and the snapshot dates (`haven snapshots TARGET`); if every snapshot really must go, delete them by hand",
      wouldRemove,
      total,
    };
  }
  if (wouldRemove > total * maxRemoveShare) {
    return {
      refused: true,
      reason: `would delete ${wouldRemove} of ${total} snapshots${of} (${percent(wouldRemove / total)}), more than the allowed ${percent(maxRemoveShare)} at once; refusing`,
      hint: "check the retention policy in haven.yaml (`haven prune TARGET --dry-run` lists every decision); if the change is intended, raise the allowed share or prune in several steps",
      wouldRemove,
      total,
    };
  }
  return { refused: false, remove: decision.remove, keep: decision.keep };
}

/** Turns a refusal into the error the CLI and the job runner report (code REFUSED). */
export function refusalError(refusal: PruneRefused): HavenError {
  return new HavenError("REFUSED", refusal.reason, { hint: refusal.hint });
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}
