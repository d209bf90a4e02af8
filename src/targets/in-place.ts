/**
 * Whether a restore writes over the target's own data. The restore guard (confirmation, roles,
 * approvals) keys on that, so `--to` naming the original place must count as in place: otherwise
 * `--to /srv/share --force` would overwrite the live share with none of the guard's checks.
 */
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { TargetConfig } from "../config/types";
import { resolveMysqlConnection } from "./mysql/connection";
import { resolvePgConnection } from "./postgres/connection";
import { isSameOrBelow, locate, readMounts } from "./mounts";
import type { RestoreDestination } from "./types";

/**
 * The path with the symlinks of its longest existing part resolved, and the part a restore would
 * create appended: `link-to-share/new` names a folder inside the share before it exists.
 */
async function canonicalPath(path: string): Promise<string> {
  const absolute = resolve(path);
  const missing: string[] = [];
  for (let existing = absolute; ; existing = dirname(existing)) {
    try {
      return join(await realpath(existing), ...missing.reverse());
    } catch {
      if (existing === dirname(existing)) return absolute;
      missing.push(basename(existing));
    }
  }
}

async function identity(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    return `${info.dev}:${info.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Whether `path` or one of its existing parents is the very file or folder `root` is (same device and
 * inode). Paths alone miss a bind mount of the share (`/mnt/alias` showing `/srv/share`) and a hard
 * link to the SQLite file: both write over the live data under another name.
 */
async function reachesSameInode(path: string, root: string, parents: boolean): Promise<boolean> {
  const rootIdentity = await identity(root);
  if (rootIdentity === undefined) return false;
  for (let at = resolve(path); ; at = dirname(at)) {
    if ((await identity(at)) === rootIdentity) return true;
    if (!parents || at === dirname(at)) return false;
  }
}

/**
 * Whether `path` is `root` or inside it, both canonical, once each is mapped to the file system it
 * lives on and the folder inside it: a bind mount of the share, of a folder of it (`/mnt/projects`
 * showing `/srv/share/projects`) or of a folder holding it is inside the share under another name.
 * Where there is no mount table, a bind mount of the share itself is still caught by its inode.
 */
async function insideAcrossMounts(path: string, root: string): Promise<boolean> {
  const mounts = await readMounts();
  if (mounts === undefined) return reachesSameInode(path, root, true);
  const at = locate(path, mounts);
  const share = locate(root, mounts);
  return (
    at !== undefined &&
    share !== undefined &&
    at.device === share.device &&
    isSameOrBelow(at.inner, share.inner)
  );
}

async function filesInPlace(at: string, share: string): Promise<boolean> {
  return isSameOrBelow(at, share) || (await insideAcrossMounts(at, share));
}

export async function restoresInPlace(target: TargetConfig, to: RestoreDestination): Promise<boolean> {
  if (to.kind === "original") return true;
  switch (target.type) {
    case "files":
      // Into the share itself or any folder of it: restored entries may land on live files.
      if (to.kind !== "path") return false;
      return filesInPlace(await canonicalPath(to.path), await canonicalPath(target.path));
    case "sqlite":
      return (
        to.kind === "path" &&
        ((await canonicalPath(to.path)) === (await canonicalPath(target.path)) ||
          (await reachesSameInode(to.path, target.path, false)))
      );
    case "postgres":
      // `--to NAME` restores into NAME on the target's own server.
      return (
        to.kind === "database" && to.url === undefined && to.name === resolvePgConnection(target).database
      );
    case "mysql":
      return (
        to.kind === "database" && to.url === undefined && to.name === resolveMysqlConnection(target).database
      );
    default:
      // A Redis snapshot given --to becomes an RDB file there, never the live server's data.
      return false;
  }
}
