/**
 * One copy run for one target, as the copy job does it after each backup and on its schedule: read the
 * primary once, then for each other destination copy what it lacks, newest first. A destination that
 * is down fails only its own copies (TRANSIENT, retried by the jobs layer); it never blocks the others,
 * and never blocks backups, which commit to the primary alone and take no part in copies.
 */
import type { Logger } from "pino";
import type { HavenConfig } from "../config/types";
import { HavenError, isHavenError, type ErrorCode } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import { configuredTarget } from "../prune/policy";
import type { StorageBackend } from "../storage/types";
import { errorProvesDamage } from "../verify/damage";
import { copySnapshot, type CopyResult } from "./copy-snapshot";
import { pendingOn, primarySnapshots, storageOf, type PendingCopy } from "./pending";

export interface CopyRunOptions {
  /** Opens a destination's storage (closed by the run). Default `createStorage` of the config's destination. */
  openStorage?: (destination: string) => StorageBackend;
  now?: Date;
  logger?: Logger;
  signal?: AbortSignal;
}

/** A copy that failed: of one snapshot, or (without `snapshotId`) the listing of a destination. */
export interface CopyFailure {
  to: string;
  snapshotId?: string;
  /**
   * The oldest snapshot still owed to `to` when the copy stopped (copies go newest first, so the one
   * that failed is usually the youngest): how far behind the destination is. Absent when its listing failed.
   */
  oldestPending?: string;
  code: ErrorCode;
  message: string;
  hint?: string;
}

export interface CopyReport {
  target: string;
  from: string;
  /** Copies made or found already done. */
  copied: CopyResult[];
  failed: CopyFailure[];
  /** The other destinations whose snapshots were listed in this run (they answered). */
  listed: string[];
}

/**
 * Copies every pending snapshot of `target`. Throws when the primary cannot be read (nothing can be
 * copied); failures on the other destinations are collected in `failed` (see `copyReportError`).
 * On one destination, copying stops at the first failure that is not the snapshot's own (see
 * copyEach): the destination is likely down, and the next run starts over from the listing.
 */
export async function copyPending(
  config: HavenConfig,
  target: string,
  options: CopyRunOptions = {},
): Promise<CopyReport> {
  const targetConfig = configuredTarget(config, target);
  const [primaryName, ...others] = targetConfig.destinations;
  if (primaryName === undefined) throw new HavenError("CONFIG", `target ${target} has no destination`);
  const logger = (options.logger ?? silentLogger).child({ target });
  const now = options.now ?? new Date();
  const opened: StorageBackend[] = [];
  const open = (name: string): StorageBackend => {
    const storage = (options.openStorage ?? ((n: string) => storageOf(config, n, logger)))(name);
    opened.push(storage);
    return storage;
  };

  const report: CopyReport = { target, from: primaryName, copied: [], failed: [], listed: [] };
  try {
    const from = open(primaryName);
    const primary = await primarySnapshots(from, target, logger);
    for (const name of others) {
      let to: StorageBackend;
      let pendings: PendingCopy[];
      try {
        to = open(name);
        pendings = await pendingOn(config, targetConfig, primary, primaryName, to, now, logger);
      } catch (error) {
        const failure = failureOf(name, asHavenError(error), logger);
        report.failed.push(failure);
        if (failure.code === "CANCELLED") break;
        continue;
      }
      report.listed.push(name);
      const outcome = await copyEach(pendings, (id) => {
        options.signal?.throwIfAborted();
        return copySnapshot(config, target, id, from, to, {
          logger,
          now,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      });
      report.copied.push(...outcome.copied);
      const oldestPending = outcome.owed.sort()[0];
      for (const { snapshotId, error } of outcome.failed)
        report.failed.push(failureOf(name, error, logger, { snapshotId, oldestPending }));
      if (outcome.failed.some(({ error }) => error.code === "CANCELLED")) break;
    }
    return report;
  } finally {
    await Promise.allSettled(opened.map((storage) => storage.close()));
  }
}

/**
 * Copies `pendings` in order; stops at the first failure that is not the snapshot's own. A failure
 * that proves the one snapshot bad (verify/damage.ts: its bytes do not match its manifest, or it was
 * pruned since the listing) lets the copies behind it go on: stopping there left every older snapshot
 * owed for ever behind one damaged one, run after run. Any other failure is the destination's.
 */
async function copyEach(
  pendings: readonly PendingCopy[],
  copy: (snapshotId: string) => Promise<CopyResult>,
): Promise<{
  copied: CopyResult[];
  failed: Array<{ snapshotId: string; error: HavenError }>;
  owed: string[];
}> {
  const owed = new Set(pendings.map((pending) => pending.snapshotId));
  const copied: CopyResult[] = [];
  const failed: Array<{ snapshotId: string; error: HavenError }> = [];
  for (const { snapshotId } of pendings) {
    try {
      copied.push(await copy(snapshotId));
      owed.delete(snapshotId);
    } catch (error) {
      const haven = asHavenError(error);
      failed.push({ snapshotId, error: haven });
      if (!errorProvesDamage(haven)) break;
    }
  }
  return { copied, failed, owed: [...owed] };
}

function asHavenError(error: unknown): HavenError {
  return isHavenError(error) ? error : new HavenError("TRANSIENT", String(error), { cause: error });
}

function failureOf(
  to: string,
  error: HavenError,
  logger: Logger,
  at: { snapshotId?: string; oldestPending?: string | undefined } = {},
): CopyFailure {
  logger.error({ to, snapshot: at.snapshotId, code: error.code, err: error.message }, "copy failed");
  return {
    to,
    ...(at.snapshotId === undefined ? {} : { snapshotId: at.snapshotId }),
    ...(at.oldestPending === undefined ? {} : { oldestPending: at.oldestPending }),
    code: error.code,
    message: error.message,
    ...(error.hint ? { hint: error.hint } : {}),
  };
}

/**
 * The error a copy run ends with, or null when every copy succeeded. TRANSIENT wins when any failure is
 * transient, so that the jobs layer retries the run (copies already made are found present at once).
 */
export function copyReportError(report: CopyReport): HavenError | null {
  const first = report.failed.find((f) => f.code === "TRANSIENT") ?? report.failed[0];
  if (!first) return null;
  const what = first.snapshotId ? `snapshot ${first.snapshotId}` : "listing";
  const more = report.failed.length > 1 ? ` (and ${report.failed.length - 1} more failures)` : "";
  return new HavenError(
    first.code,
    `copy of ${report.target} to ${first.to} failed at ${what}: ${first.message}${more}`,
    {
      ...(first.hint ? { hint: first.hint } : {}),
    },
  );
}
