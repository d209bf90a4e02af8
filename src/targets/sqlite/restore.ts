/**
 * Restores a SQLite snapshot to a database file: written next to the destination under a temporary
 * name, synced, checked with `pragma integrity_check`, then moved into place. An existing file is only
 * replaced with consent (`force`); its `-wal`, `-shm` and `-journal` companions are removed with it,
 * since they belong to the old file and would corrupt the new one. Stop the application's writers
 * before restoring over a database in use.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, chown, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { moveIntoPlace, pathExists } from "../../lib/durable-file";
import { HavenError } from "../../lib/errors";
import { ByteCounter } from "../process";
import type { RestoreDestination, RestoreOptions, RestoreStats, RunContext } from "../types";
import { sqliteExec } from "./cli";

const COMPANIONS = ["-wal", "-shm", "-journal"];

export async function restoreSqlite(
  originalPath: string,
  body: Readable,
  to: RestoreDestination,
  run: RunContext,
  opts: RestoreOptions = {},
): Promise<RestoreStats> {
  if (to.kind === "database") {
    body.destroy();
    throw new HavenError("USAGE", "a SQLite snapshot restores to a file path (--to /path/app.db)");
  }
  const target = resolve(to.kind === "path" ? to.path : originalPath);
  if (!opts.force && (await pathExists(target))) {
    body.destroy();
    throw new HavenError("REFUSED", `${target} exists; refusing to overwrite it`, {
      hint: "restore to another path, or confirm replacing it (add --force) after stopping its writers",
    });
  }
  try {
    await opts.beforeWrite?.();
  } catch (error) {
    body.destroy();
    throw error;
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString("hex")}.restore`);
  const counter = new ByteCounter();
  try {
    // flush: the stream fsyncs the file before it closes, and the pipeline settles only after that.
    await pipeline(body, counter, createWriteStream(temp, { mode: 0o600, flags: "wx", flush: true }), {
      signal: run.signal,
    });
    const check = (
      await sqliteExec(temp, "pragma integrity_check;", { readonly: true, signal: run.signal })
    ).trim();
    if (check !== "ok") {
      throw new HavenError(
        "INTEGRITY",
        `the restored SQLite database fails its integrity check: ${check.slice(0, 500)}`,
        {
          hint: "try an older snapshot; verify this one with haven verify",
        },
      );
    }
    if (opts.force) {
      await takeOverAccess(temp, target, run);
      for (const suffix of COMPANIONS) await rm(`${target}${suffix}`, { force: true });
    }
    // Without consent, never replace a file that appeared meanwhile.
    await moveIntoPlace(temp, target, opts.force === true);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  run.logger.info({ path: target, bytes: counter.bytes }, "SQLite database restored");
  return { bytes: counter.bytes, path: target };
}

/**
 * The file replacing a database gets the old file's mode and owner: the application must still open
 * it after a disaster recovery, and a restore run as root would otherwise leave a root-owned 0600 file.
 */
async function takeOverAccess(temp: string, target: string, run: RunContext): Promise<void> {
  const old = await stat(target).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  if (!old) return;
  await chmod(temp, old.mode & 0o7777);
  const mine = await stat(temp);
  if (mine.uid === old.uid && mine.gid === old.gid) return;
  try {
    await chown(temp, old.uid, old.gid);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") throw error;
    run.warn(
      `${target} was owned by uid ${old.uid}, gid ${old.gid}; the restored file is owned by this process's user (only root may give it away): chown it before starting the application`,
    );
  }
}
