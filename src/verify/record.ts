/**
 * A verification record, stored next to its snapshot (`verifications/<time>.json`). The record is the
 * evidence: every check with its expected and actual values, and the time each phase took. The total
 * of a restore test is a measured restore time.
 */
import { Readable } from "node:stream";
import { layout } from "../catalog/layout";
import type { StorageBackend } from "../storage/types";

export interface CheckResult {
  name: string;
  ok: boolean;
  expected?: unknown;
  actual?: unknown;
  detail?: string;
  /** false when the check could not run (bad SQL, a check the target type cannot run): no finding about the data. */
  ran?: boolean;
}

export interface VerificationRecord {
  formatVersion: 1;
  kind: "integrity" | "restore";
  target: string;
  snapshotId: string;
  result: "passed" | "failed";
  startedAt: string;
  finishedAt: string;
  /** Milliseconds per phase (download, decrypt+decompress, load, checks, cleanup). */
  phases: Record<string, number>;
  totalMs: number;
  checks: CheckResult[];
  error?: { code: string; message: string };
  host: string;
}

export async function writeVerificationRecord(
  storage: StorageBackend,
  record: VerificationRecord,
): Promise<string> {
  const key = layout.verification(record.target, record.snapshotId, new Date(record.finishedAt));
  await storage.put(key, Readable.from([Buffer.from(JSON.stringify(record, null, 2))]), {
    contentType: "application/json",
  });
  return key;
}

/** Times named phases; the phase in progress when an error strikes is recorded too. */
export class PhaseTimer {
  readonly phases: Record<string, number> = {};
  readonly #started = Date.now();

  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.phases[name] = (this.phases[name] ?? 0) + Math.round(performance.now() - start);
    }
  }

  get totalMs(): number {
    return Date.now() - this.#started;
  }
}
