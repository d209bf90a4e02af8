/**
 * Loads one walked entry from disk for the archiver: its stat, a symlink's target, and the whole
 * content of a small file (read in one call, checked for changes while it was read). Large files are
 * only opened here; the archiver streams them. Per-entry problems (vanished, unreadable, replaced by
 * something else) come back as `skipped` so the walk goes on; only the unexpected rejects.
 */
import { isUtf8 } from "node:buffer";
import { constants, type Stats } from "node:fs";
import type { FileSystemCalls } from "./source-io";
import { showName, type WalkEntry } from "./walk";

/** Files up to this size are read whole, in one call; bigger ones are streamed in chunks. */
export const SMALL_FILE_MAX = 256 * 1024;

/**
 * O_NOFOLLOW: a file replaced by a symlink after the listing is not followed.
 * O_NONBLOCK: a file replaced by a FIFO cannot block the open forever.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export type LoadedEntry =
  | { kind: "directory"; entry: WalkEntry; stat: Stats }
  | { kind: "symlink"; entry: WalkEntry; stat: Stats; target: string }
  /** A small file read whole; `change` says how it changed while being read, if it did. */
  | { kind: "file"; entry: WalkEntry; stat: Stats; data: Buffer; change?: string }
  /** A large file opened for streaming; the consumer reads `fd` and MUST close it. */
  | { kind: "large-file"; entry: WalkEntry; stat: Stats; fd: number }
  /** Not archived. `warn`: the run becomes partial (data was expected but could not be read). */
  | { kind: "skipped"; entry: WalkEntry; reason: string; warn: boolean };

const PER_ENTRY_ERRORS = new Set(["ENOENT", "EACCES", "EPERM", "ELOOP", "ENOTDIR", "ENXIO", "EIO", "ESTALE"]);

function describeErrno(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "ENOENT":
    case "ENOTDIR":
      return "vanished before it could be read";
    case "EACCES":
    case "EPERM":
      return "could not be read (permission denied)";
    case "ELOOP":
      return "was replaced by a symbolic link while being archived";
    default:
      return `could not be read (${error.code ?? error.message})`;
  }
}

/** A socket, FIFO or device: not data Haven can restore, so it is left out. */
function specialKind(stat: Stats): string | undefined {
  if (stat.isSocket()) return "socket";
  if (stat.isFIFO()) return "FIFO";
  if (stat.isCharacterDevice()) return "character device";
  if (stat.isBlockDevice()) return "block device";
  return undefined;
}

/** True when size or mtime differ: the file was written to between the two stats. */
export function changedSince(before: Stats, after: Stats): boolean {
  return before.size !== after.size || before.mtimeMs !== after.mtimeMs;
}

/** Reads up to `length` bytes from position 0, looping over short reads; returns how many were read. */
async function readFully(
  calls: FileSystemCalls,
  fd: number,
  buffer: Buffer,
  length: number,
): Promise<number> {
  let total = 0;
  while (total < length) {
    const n = await calls.read(fd, buffer, total, length - total, total);
    if (n === 0) break;
    total += n;
  }
  return total;
}

/**
 * Reads a small file whole. One byte more than stat said is requested, so growth shows up in the
 * same read; the second fstat catches changes that keep the size (rewritten in place).
 */
async function readSmallFile(
  calls: FileSystemCalls,
  entry: WalkEntry,
  fd: number,
  stat: Stats,
): Promise<LoadedEntry> {
  const size = stat.size;
  const buffer = Buffer.allocUnsafe(size + 1);
  const got = await readFully(calls, fd, buffer, size + 1);
  const after = await calls.fstat(fd);
  let change: string | undefined;
  if (got > size) change = `grew while being read (archived the first ${size} bytes)`;
  else if (got < size) {
    buffer.fill(0, got, size);
    change = `shrank while being read (${got} of ${size} bytes; padded with zeros)`;
  } else if (changedSince(stat, after)) change = "changed while being read";
  const data = buffer.subarray(0, size);
  return change === undefined
    ? { kind: "file", entry, stat, data }
    : { kind: "file", entry, stat, data, change };
}

async function loadFile(calls: FileSystemCalls, entry: WalkEntry): Promise<LoadedEntry> {
  const fd = await calls.open(entry.abs, OPEN_FLAGS);
  let handedOver = false;
  try {
    const stat = await calls.fstat(fd);
    if (!stat.isFile()) {
      const what = specialKind(stat) ?? (stat.isDirectory() ? "directory" : "non-file");
      return { kind: "skipped", entry, reason: `was replaced by a ${what} while being archived`, warn: true };
    }
    if (stat.size > SMALL_FILE_MAX) {
      handedOver = true;
      return { kind: "large-file", entry, stat, fd };
    }
    return await readSmallFile(calls, entry, fd, stat);
  } finally {
    if (!handedOver) await calls.close(fd);
  }
}

async function loadOther(calls: FileSystemCalls, entry: WalkEntry): Promise<LoadedEntry> {
  const stat = await calls.lstat(entry.abs);
  if (stat.isDirectory()) return { kind: "directory", entry, stat };
  if (stat.isSymbolicLink()) {
    const target = await calls.readlink(entry.abs);
    // As a string it would point elsewhere (U+FFFD for each byte that is not UTF-8): see walk.ts.
    if (!isUtf8(target)) {
      const reason = `is a symbolic link to ${showName(target)}, which is not UTF-8; not archived (rename its target and recreate it)`;
      return { kind: "skipped", entry, reason, warn: true };
    }
    return { kind: "symlink", entry, stat, target: target.toString("utf8") };
  }
  if (stat.isFile()) return loadFile(calls, entry);
  const special = specialKind(stat) ?? "special file";
  return { kind: "skipped", entry, reason: `is a ${special}; not archived`, warn: false };
}

/** Loads one entry; never rejects for a problem with that entry alone. */
export async function loadEntry(calls: FileSystemCalls, entry: WalkEntry): Promise<LoadedEntry> {
  try {
    return entry.kind === "file" ? await loadFile(calls, entry) : await loadOther(calls, entry);
  } catch (error) {
    const errno = error as NodeJS.ErrnoException;
    if (typeof errno.code === "string" && PER_ENTRY_ERRORS.has(errno.code)) {
      return { kind: "skipped", entry, reason: describeErrno(errno), warn: true };
    }
    throw error;
  }
}

/** Frees what a loaded entry holds (a large file's descriptor) when it will not be archived. */
export async function releaseEntry(calls: FileSystemCalls, loaded: LoadedEntry): Promise<void> {
  if (loaded.kind === "large-file") await calls.close(loaded.fd);
}
