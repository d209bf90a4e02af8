/**
 * Checks that a files target's source is what the operator means to back up before a backup reads
 * it. A network share that is not mounted leaves its mount point as an empty folder of the local
 * disk: archiving that gives a "successful" empty snapshot, and retention then counts it as a good
 * day and in a week removes the last daily snapshots that held the data. So a backup refuses an
 * empty source (unless `allowEmpty`), and with `mountpoint: true` a path that is not a mount point.
 */
import { opendir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import type { TargetConfigOf } from "../../config/types";
import { HavenError } from "../../lib/errors";
import { readMounts } from "../mounts";

export type SourceGuardConfig = Pick<TargetConfigOf<"files">, "name" | "path"> &
  Partial<Pick<TargetConfigOf<"files">, "mountpoint" | "allowEmpty">>;

/**
 * Whether `path` (symlinks resolved) is a mount point. mountinfo also sees bind mounts, which share
 * their parent's device; without /proc, a device differing from the parent's is the test.
 */
export async function isMountPoint(path: string): Promise<boolean> {
  const real = await realpath(path);
  const mounts = await readMounts();
  if (mounts !== undefined) return mounts.some((mount) => mount.point === real);
  const [self, parent] = await Promise.all([stat(real), stat(join(real, ".."))]);
  return self.dev !== parent.dev || self.ino === parent.ino;
}

/** Reads one name, not the whole listing: a restore may go into a folder of millions. */
export async function isEmptyDirectory(path: string): Promise<boolean> {
  const dir = await opendir(path);
  try {
    return (await dir.read()) === null;
  } finally {
    await dir.close();
  }
}

/**
 * Why the source must not be backed up now, or undefined. Errors reading the path itself propagate
 * (the caller reports a missing or unreadable source in its own words).
 */
export async function sourceRefusal(config: SourceGuardConfig): Promise<HavenError | undefined> {
  const where = `targets.${config.name}`;
  if (config.mountpoint === true && !(await isMountPoint(config.path))) {
    return new HavenError(
      "SOURCE_FAILED",
      `source ${config.path} is not a mount point: the share is not mounted on this worker`,
      {
        hint: `mount the share at ${config.path} on this worker, or set ${where}.mountpoint: false if it is a plain folder`,
      },
    );
  }
  if (config.allowEmpty !== true && (await isEmptyDirectory(config.path))) {
    return new HavenError(
      "SOURCE_FAILED",
      `source directory ${config.path} is empty; an empty snapshot would count as a good backup for retention`,
      {
        hint: `check that the share is mounted on this worker (and set ${where}.mountpoint: true to have that checked), or set ${where}.allowEmpty: true if the folder may be empty`,
      },
    );
  }
  return undefined;
}
