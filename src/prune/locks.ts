/**
 * Object Lock as prune sees it. An object whose retain-until date is still ahead cannot be deleted;
 * worse, on a versioned bucket (Object Lock requires versioning) a plain DELETE of it "succeeds" by
 * adding a delete marker: the snapshot would vanish from Haven's view while its bytes stay, locked and
 * billed. So prune asks first (one stat per object, HeadObject on S3) and leaves such a snapshot whole.
 */
import type { StorageBackend } from "../storage/types";
import { folderKeys, type SnapshotFolder } from "./inventory";
import { mapLimit, PARALLEL_REQUESTS } from "./parallel";

/** A snapshot retention would remove, kept because an object of it is locked. */
export interface LockedSnapshot {
  readonly id: string;
  /** The latest retain-until date among its objects: the snapshot can go after this. */
  readonly until: Date;
}

/** The latest retain-until date among the folder's objects that is after `now`, or null if none is locked. */
export async function lockedUntil(
  storage: StorageBackend,
  folder: SnapshotFolder,
  now: Date,
): Promise<Date | null> {
  const infos = await mapLimit(folderKeys(folder), PARALLEL_REQUESTS, (key) => storage.stat(key));
  let latest: Date | null = null;
  for (const info of infos) {
    const until = info?.retainUntil;
    if (until && until.getTime() > now.getTime() && (!latest || until.getTime() > latest.getTime()))
      latest = until;
  }
  return latest;
}

/** "locked until 2027-01-01T00:00:00.000Z": the reason a dry run and a report show. */
export function lockedReason(until: Date): string {
  return `locked until ${until.toISOString()}`;
}
