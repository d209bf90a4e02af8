/**
 * Produces the tar stream of a directory tree (the `data` payload of a files snapshot) and, on the
 * way, the file index with each file's sha256. Files that change, shrink, grow or vanish while being
 * read are archived as well as possible and reported with `run.warn`, which makes the run partial:
 * the archive is never silently wrong and always stays a valid tar.
 */
import { stat as statPath } from "node:fs/promises";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { pack as tarPack } from "tar-stream";
import { HavenError, isHavenError } from "../../lib/errors";
import type { RunContext } from "../types";
import { FileIndexBuilder } from "./file-index";
import { readAhead } from "./read-ahead";
import type { IoMode } from "./adaptive-calls";
import { loadEntry, releaseEntry, type LoadedEntry } from "./source-entry";
import { sourceRefusal } from "./source-guard";
import { sourceCalls } from "./source-io";
import { LARGE_FILE_CHUNK, TarEntryWriter, type ArchiveStats } from "./tar-writer";
import { walkTree, type WalkEntry } from "./walk";
import { readerClosedError } from "../reader-closed";

export type { ArchiveStats };

/** How many entries are stat'ed, opened and (when small) read ahead of the one being written. */
export const LOOKAHEAD = 16;

export interface ArchiveOptions {
  /** Target name, for error hints. */
  target: string;
  root: string;
  exclude: readonly string[];
  run: RunContext;
  /** How to call the file system (see adaptive-calls.ts); default "adaptive". */
  io?: IoMode;
  /** The root must be a mount point (see source-guard.ts). */
  mountpoint?: boolean;
  /** An empty root is archived instead of refused (see source-guard.ts). */
  allowEmpty?: boolean;
}

export interface TarArchive {
  /** The tar stream. The walk starts on the first read. */
  body: Readable;
  /** Settles after `body` ended; rejects when the walk failed or the stream was cut short. */
  done: Promise<ArchiveStats>;
  /** The JSON Lines file index; resolves once the archive is complete. */
  index(): Promise<Readable>;
}

function sourceFailed(options: ArchiveOptions, error: NodeJS.ErrnoException): HavenError {
  const where = `targets.${options.target}.path`;
  switch (error.code) {
    case "ENOENT":
      return new HavenError("SOURCE_FAILED", `source directory ${options.root} does not exist`, {
        cause: error,
        hint: `check ${where} in the config, and that the share is mounted on this worker`,
      });
    case "ENOTDIR":
      return new HavenError("SOURCE_FAILED", `source ${options.root} is not a directory`, {
        cause: error,
        hint: `point ${where} at a directory`,
      });
    case "EACCES":
    case "EPERM":
      return new HavenError("SOURCE_FAILED", `source directory ${options.root} is not readable`, {
        cause: error,
        hint: `run the worker as a user that can read ${options.root}, or fix its permissions`,
      });
    default:
      return new HavenError("SOURCE_FAILED", `reading ${options.root} failed: ${error.message}`, {
        cause: error,
        hint: "check the source file system (a stale network mount, an I/O error), then run the backup again",
      });
  }
}

/**
 * Sets up the archive of `options.root`. Nothing is read until `body` is: then the tree is walked
 * (look-ahead of LOOKAHEAD entries) and written entry by entry as the reader takes the bytes.
 */
export function createTarArchive(options: ArchiveOptions): TarArchive {
  const { run } = options;
  const pack = tarPack();
  const index = new FileIndexBuilder();
  const io = sourceCalls(options.io ?? "adaptive", (slowShare) =>
    run.logger.info(
      { slowShare },
      "source file system is slow: reading ahead on the thread pool for the rest of the run",
    ),
  );
  const writer = new TarEntryWriter(pack, io, index, run);
  let started = false;
  /** Set when the consumer (or a cancellation) closes `body` before the producer finished. */
  let closedEarly: Error | undefined;
  let resolveProduced: (stats: ArchiveStats) => void = () => undefined;
  let rejectProduced: (error: unknown) => void = () => undefined;
  const produced = new Promise<ArchiveStats>((resolve, reject) => {
    resolveProduced = resolve;
    rejectProduced = reject;
  });
  produced.catch(() => undefined);

  const body = new Readable({
    highWaterMark: LARGE_FILE_CHUNK,
    read() {
      if (started) {
        pack.resume();
        return;
      }
      started = true;
      produce().then(
        (result) => resolveProduced(result),
        (error: unknown) => {
          rejectProduced(error);
          body.destroy(error as Error);
        },
      );
    },
    destroy(error, callback) {
      if (!pack.destroyed) {
        closedEarly ??= closedEarlyError(options, error);
        pack.destroy(closedEarly);
      }
      if (!started) {
        // Destroyed before the first read: there is no producer to report it, so report it here.
        started = true;
        rejectProduced(closedEarly);
        run.signal.removeEventListener("abort", onAbort);
      }
      callback(error);
    },
  });
  pack.on("data", (chunk) => {
    if (!body.push(chunk)) pack.pause();
  });
  pack.on("end", () => body.push(null));
  pack.on("error", (error: Error) => body.destroy(error));

  const onAbort = () =>
    body.destroy(
      new HavenError("CANCELLED", `backup of ${options.target} cancelled`, { cause: run.signal.reason }),
    );
  run.signal.addEventListener("abort", onAbort, { once: true });
  if (run.signal.aborted) onAbort();

  async function produce(): Promise<ArchiveStats> {
    try {
      const root = await statPath(options.root).catch((error: NodeJS.ErrnoException) => {
        throw sourceFailed(options, error);
      });
      if (!root.isDirectory())
        throw sourceFailed(options, Object.assign(new Error("not a directory"), { code: "ENOTDIR" }));
      const refused = await sourceRefusal({ name: options.target, path: options.root, ...options });
      if (refused !== undefined) throw refused;
      // walkTree rejects only when the root cannot be listed: asArchiveError makes that SOURCE_FAILED.
      const walk = walkTree(options.root, {
        exclude: options.exclude,
        readdir: (abs) => io.calls.readdir(abs),
        onUnreadableDirectory: (entry, error) => {
          const reason = `directory ${describeDirError(error)}; its contents are missing`;
          run.warn(`${entry.rel}: ${reason}`, { path: entry.rel, reason });
        },
        onNameNotUtf8: (shown, kind) => {
          const what =
            kind === "directory" ? "directory (and its contents)" : kind === "other" ? "entry" : kind;
          const reason = `name is not UTF-8 (each \\xHH is a byte that is not); this ${what} is not archived. Rename it to UTF-8 (for Latin-1 names: convmv -f latin1 -t utf-8 -r --notest ${options.root})`;
          run.warn(`${shown}: ${reason}`, { path: shown, reason });
        },
      });
      const load = (entry: WalkEntry) => loadEntry(io.calls, entry);
      const release = (loaded: LoadedEntry) => releaseEntry(io.calls, loaded);
      for await (const loaded of readAhead(walk, LOOKAHEAD, load, release)) {
        if (closedEarly !== undefined) {
          await release(loaded);
          throw closedEarly;
        }
        await writer.write(loaded);
      }
      pack.finalize();
      return writer.stats;
    } catch (error) {
      throw asArchiveError(options, closedEarly ?? error);
    } finally {
      run.signal.removeEventListener("abort", onAbort);
    }
  }

  const done = produced.then(async (result) => {
    // The producer is done; the stream is only done when its reader took the last byte.
    await finished(body).catch((error: unknown) => {
      throw closedEarly ?? closedEarlyError(options, error as Error);
    });
    return result;
  });
  // Callers await `done` after the pipeline; if the pipeline throws first, this keeps the rejection
  // from being reported as unhandled (the caller already has the error).
  done.catch(() => undefined);

  return {
    body,
    done,
    index: async () => {
      await produced;
      return await index.toStream();
    },
  };
}

/** Why `done` rejects when the stream was closed before its end, by cancellation or by its reader. */
function closedEarlyError(options: ArchiveOptions, error: Error | null): HavenError {
  if (isHavenError(error)) return error;
  const why = error === null ? "" : `: ${error.message}`;
  return readerClosedError(
    new HavenError("SOURCE_FAILED", `the tar stream of ${options.target} was closed before its end${why}`, {
      cause: error ?? undefined,
      hint: "see the error of the upload or pipeline that read the stream",
    }),
  );
}

function describeDirError(error: NodeJS.ErrnoException): string {
  if (error.code === "EACCES" || error.code === "EPERM") return "could not be listed (permission denied)";
  if (error.code === "ENOENT" || error.code === "ENOTDIR") return "vanished before it could be listed";
  return `could not be listed (${error.code ?? error.message})`;
}

function asArchiveError(options: ArchiveOptions, error: unknown): HavenError {
  if (isHavenError(error)) return error;
  return sourceFailed(options, error as NodeJS.ErrnoException);
}
