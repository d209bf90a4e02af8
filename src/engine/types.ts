import type { Logger } from "pino";
import type { Tier } from "../config/types";

/**
 * Run states (see DESIGN.md vocabulary). Whether the data is usable:
 * - committed: yes, the manifest is written and the source was read completely.
 * - partial: yes, but with warnings (files changed or vanished while read); manifest written.
 * - failed: no manifest; nothing visible; leftovers are removed by maintenance.
 * - skipped: another run of the same target held its lock; nothing was done.
 */
export type RunState = "committed" | "partial" | "failed" | "skipped";

export interface BackupRequest {
  target: string;
  tier: Tier;
  /** Who asked: "scheduler", "cli:<user>", ... (for the audit trail). */
  requestedBy: string;
}

export interface BackupResult {
  target: string;
  state: RunState;
  snapshotId?: string;
  /** Per destination the snapshot was committed to. */
  destinations: string[];
  startedAt: string;
  finishedAt: string;
  plainBytes?: number;
  storedBytes?: number;
  warnings: string[];
  error?: { code: string; message: string; hint?: string };
}

export interface ProgressEvent {
  phase: string;
  bytes: number;
  /** Total bytes when known (restores), for ETA. */
  total?: number;
}

export interface EngineContext {
  logger: Logger;
  signal: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
}
