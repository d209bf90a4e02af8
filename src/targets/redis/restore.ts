/**
 * Redis restores. A running server cannot take an RDB in place, so:
 * - `path`: the RDB is written to that file (atomically, refusing to overwrite unless forced), to be
 *   put in a server's data directory;
 * - `original`: refused, with the procedure in the hint (stop the server, replace its RDB, start it);
 * - verification starts a scratch server on the RDB instead (`startScratchRedis`, scratch.ts).
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { moveIntoPlace, pathExists } from "../../lib/durable-file";
import { HavenError } from "../../lib/errors";
import type { RestoreDestination, RestoreOptions, RestoreStats, RunContext } from "../types";
import { RdbStream } from "./rdb-stream";

/** The manual procedure for putting an RDB back into the original server. */
export const ORIGINAL_RESTORE_PROCEDURE = [
  "restore the RDB to a file first: haven restore <target> --to /path/dump.rdb",
  "on the server: redis-cli CONFIG GET dir; redis-cli CONFIG GET dbfilename; redis-cli CONFIG GET appendonly",
  "stop the server (systemctl stop redis-server), move the file to <dir>/<dbfilename>, owned by the redis user",
  "if appendonly is yes, move the appendonly directory aside (the AOF would win over the RDB)",
  "start the server, check INFO keyspace, then turn appendonly back on (CONFIG SET appendonly yes) if it was",
];

export async function restoreRedis(
  body: Readable,
  to: RestoreDestination,
  run: RunContext,
  opts: RestoreOptions = {},
): Promise<RestoreStats> {
  if (to.kind !== "path") {
    body.destroy();
    if (to.kind === "original") {
      throw new HavenError(
        "REFUSED",
        "a running Redis server cannot load a snapshot in place; Haven will not stop it for you",
        {
          hint: ORIGINAL_RESTORE_PROCEDURE.map((step, i) => `${i + 1}. ${step}`).join("  "),
        },
      );
    }
    throw new HavenError("USAGE", "a Redis snapshot restores to an RDB file (--to /path/dump.rdb)", {
      hint: "restore to a path, then load it as the manifest's recipe shows",
    });
  }
  const target = to.path;
  if (!opts.force && (await pathExists(target))) {
    body.destroy();
    throw new HavenError("REFUSED", `${target} exists; refusing to overwrite it`, {
      hint: "choose another path, or confirm replacing it (add --force)",
    });
  }
  try {
    await opts.beforeWrite?.();
  } catch (error) {
    body.destroy();
    throw error;
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString("hex")}.tmp`);
  const rdb = await RdbStream.exact();
  try {
    // flush: the stream fsyncs the file before it closes, and the pipeline settles only after that.
    await pipeline(body, rdb, createWriteStream(temp, { mode: 0o600, flags: "wx", flush: true }), {
      signal: run.signal,
    });
    // Without consent, never replace a file that appeared meanwhile.
    await moveIntoPlace(temp, target, opts.force === true);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  run.logger.info({ path: target, bytes: rdb.bytes }, "RDB written");
  return { bytes: rdb.bytes, path: target };
}
