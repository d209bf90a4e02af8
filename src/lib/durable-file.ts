/**
 * Putting a complete file under its final name so that it survives a power cut: the file is synced
 * before it gets the name, and the directory after. Shared by the file restores (SQLite, Redis RDB)
 * and the filesystem destination.
 */
import { link, lstat, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/** Errors of a directory fsync on file systems (and platforms) that cannot sync a directory. */
const DIRECTORY_SYNC_UNSUPPORTED = new Set(["EINVAL", "ENOTSUP", "EISDIR", "EPERM"]);
/** Errors of link() on file systems without hard links (vfat, exFAT, SMB without unix extensions). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"]);

/** Whether the name is taken, by anything: a dangling symbolic link takes it too. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

/** Flushes a file's data to disk; a failure means the bytes may not be there after a crash. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes a directory's entries to disk, so a name given in it survives a crash. Where the file
 * system cannot sync a directory (some network and FUSE mounts), the name is given all the same and
 * nothing better can be done: that is not a failure of the work that gave it.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  try {
    await fsyncFile(path);
  } catch (error) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
  }
}

/**
 * Gives `temp` the name `target` unless that name is taken: link() fails with EEXIST rather than
 * replace, atomically. Where the file system has no hard links, the name is checked with `exists`
 * and then renamed to: not atomic, hence "renamed", for the caller to say so. On EEXIST, `temp` is
 * left for the caller.
 */
export async function linkNoReplace(
  temp: string,
  target: string,
  exists: (path: string) => Promise<boolean> = pathExists,
): Promise<"linked" | "renamed"> {
  try {
    await link(temp, target);
  } catch (error) {
    if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
    if (await exists(target)) {
      throw Object.assign(new Error(`EEXIST: file already exists, link '${temp}' -> '${target}'`), {
        code: "EEXIST",
      });
    }
    await rename(temp, target);
    return "renamed";
  }
  await rm(temp);
  return "linked";
}

/**
 * Gives a complete, synced `temp` file the name `target` in the same directory, then syncs the
 * directory. With `replace`, an existing `target` is replaced atomically (rename); without it, a
 * name taken meanwhile is never replaced (see linkNoReplace: EEXIST, `temp` left for the caller).
 */
export async function moveIntoPlace(temp: string, target: string, replace: boolean): Promise<void> {
  if (replace) await rename(temp, target);
  else await linkNoReplace(temp, target);
  await fsyncDirectory(dirname(target));
}
