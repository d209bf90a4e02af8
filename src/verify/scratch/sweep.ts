/**
 * Sweeping a target's leftover scratch places: what a worker killed mid-test (SIGKILL, the OOM
 * killer) left, since its cleanup never ran. Each kind of place lists its candidates and removes one
 * by name (postgres.ts, mysql.ts, folder-sweep.ts, redis.ts); this decides which go, from the name
 * alone (names.ts), and keeps every failure a warning: a sweep never fails the verification.
 *
 * Removed: only names in the exact format of this target's places whose creation time is older than
 * SCRATCH_ORPHAN_AGE_MS. That age is also what keeps two workers testing the same target at once
 * from removing each other's running place: a place that young may still be in use.
 */
import type { Logger } from "../../lib/logger";
import { isOrphan, readScratchName, type NameFormat } from "./names";

export interface Leftovers {
  /** What and where, for logs: "postgres databases on 127.0.0.1:5432". */
  readonly where: string;
  readonly format: NameFormat;
  /** Names that may be this target's places (a superset: each is read again before anything goes). */
  list(): Promise<string[]>;
  remove(name: string): Promise<void>;
  /** How an operator removes one by hand (for places of the old format, whose age is unknown). */
  byHand(name: string): string;
}

/** Old-format places already reported by this process: reported once, not at every test. */
const reported = new Set<string>();

/** Removes the orphaned places of `leftovers`; returns the names removed. Never rejects. */
export async function sweepLeftovers(leftovers: Leftovers, logger: Logger, now: Date): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await leftovers.list();
  } catch (error) {
    logger.warn({ where: leftovers.where, err: reason(error) }, "could not look for leftover scratch places");
    return removed;
  }
  for (const name of names) {
    const read = readScratchName(name, leftovers.format, now);
    if (read.kind === "legacy") reportLegacy(leftovers, name, logger);
    if (!isOrphan(read, now)) continue;
    try {
      await leftovers.remove(name);
      removed.push(name);
      logger.warn(
        {
          where: leftovers.where,
          scratch: name,
          createdAt: read.kind === "stamped" ? read.createdAt : undefined,
        },
        "removed a scratch place a crashed restore test left behind",
      );
    } catch (error) {
      logger.warn(
        { where: leftovers.where, scratch: name, err: reason(error), hint: leftovers.byHand(name) },
        "could not remove a scratch place a crashed restore test left behind",
      );
    }
  }
  return removed;
}

function reportLegacy(leftovers: Leftovers, name: string, logger: Logger): void {
  const key = `${leftovers.where}\n${name}`;
  if (reported.has(key)) return;
  reported.add(key);
  logger.warn(
    { where: leftovers.where, scratch: name, hint: leftovers.byHand(name) },
    "a scratch place of an older Haven may have been left behind; its name has no creation time, so it is not removed automatically: remove it by hand once no restore test of this target is running",
  );
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
