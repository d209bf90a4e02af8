/**
 * Object Lock as prune sees it. An object whose retain-until date is still ahead cannot be deleted;
 * worse, on a versioned bucket (Object Lock requires versioning) a plain DELETE of it "succeeds" by
 * adding a delete marker: the snapshot would vanish from Haven's view while its bytes stay, locked and
 * billed. The same for a legal hold, which has no date. So prune asks first (one stat per object,
 * HeadObject on S3) and leaves such a snapshot whole.
 */
import type { StorageBackend } from "../storage/types";
import { folderKeys, type SnapshotFolder } from "./inventory";
import { mapLimit, PARALLEL_REQUESTS } from "../lib/map-limit";

/** Why a snapshot cannot be deleted yet: a retain-until date still ahead, a legal hold, or both. */
export interface SnapshotLock {
  /** The latest retain-until date among its objects: the snapshot can go after this. */
  readonly until?: Date;
  /** An object of it is under a legal hold: kept, whatever the date, until someone lifts the hold. */
  readonly legalHold?: true;
}

/** A snapshot retention would remove, kept because an object of it is locked. */
export interface LockedSnapshot extends SnapshotLock {
  readonly id: string;
}

/** What holds the folder's objects now (see SnapshotLock), or null if nothing does. */
export async function snapshotLock(
  storage: StorageBackend,
  folder: SnapshotFolder,
  now: Date,
): Promise<SnapshotLock | null> {
  const infos = await mapLimit(folderKeys(folder), PARALLEL_REQUESTS, (key) => storage.stat(key));
  let latest: Date | null = null;
  let legalHold = false;
  for (const info of infos) {
    if (info?.legalHold) legalHold = true;
    const until = info?.retainUntil;
    if (until && until.getTime() > now.getTime() && (!latest || until.getTime() > latest.getTime()))
      latest = until;
  }
  if (!latest && !legalHold) return null;
  return { ...(latest ? { until: latest } : {}), ...(legalHold ? { legalHold: true as const } : {}) };
}

/** "locked until 2027-01-01T00:00:00.000Z", "under a legal hold": the reason a dry run and a report show. */
export function lockedReason(lock: SnapshotLock): string {
  const reasons: string[] = [];
  if (lock.legalHold) reasons.push("under a legal hold");
  if (lock.until) reasons.push(`locked until ${lock.until.toISOString()}`);
  return reasons.join(" and ");
}

/** The lock as JSON: `until` as an ISO date, `legalHold` when set. */
export function lockJson(lock: SnapshotLock): { until?: string; legalHold?: true } {
  return {
    ...(lock.until ? { until: lock.until.toISOString() } : {}),
    ...(lock.legalHold ? { legalHold: true as const } : {}),
  };
}
