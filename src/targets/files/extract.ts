/**
 * Extracts a tar stream into a directory without ever writing outside it. Refused entries (absolute
 * or `..` names, a path through a symbolic link, a hard link to outside, devices) are recorded with
 * their reason and skipped; the extraction goes on and the caller decides what the rejections mean.
 *
 * Why nothing escapes: every name is normalized before use; every parent directory is checked with
 * lstat (or created by us) before anything is written below it, and a directory is never replaced by
 * anything else, so a checked parent stays a real directory; files, links and directories are created
 * create-only (O_EXCL|O_NOFOLLOW, symlink(), link(), mkdir()), so an existing symlink or hard link is
 * never written through. Symbolic links are restored as links (they are data) and never followed.
 *
 * Why a forced restore loses no file to a bad archive: an entry whose name is taken (by a file or a
 * link) is written to a staged sibling and renamed over it only once complete, and for a file with an
 * index only once its sha256 matches. A truncated archive, or a corrupt one with an index or age
 * encryption (checked chunk by chunk), leaves the existing file as it was. A new file whose writing
 * fails (a full disk, a payload that ends inside it) is removed: none is left short under its name.
 *
 * Why two names the destination cannot tell apart do not cost one of them: on a file system that folds
 * case or Unicode forms (SMB, a macOS volume, ext4 casefold, vfat), `report.txt` finds `Report.txt`,
 * restored a moment before, in its place. Only what was there before the restore is replaced; what this
 * restore put there is kept and the later entry refused (see #madeByThisRestore).
 */
import { constants, type Stats } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { extract as tarExtract, type Header } from "tar-stream";
import { HavenError, isHavenError } from "../../lib/errors";
import type { RejectionCause, RestoreStats, RunContext } from "../types";
import type { AdaptiveCalls, IoMode } from "./adaptive-calls";
import { destinationCalls, type DestinationCalls } from "./destination-io";
import { includeMatcher, normalizeEntryPath, parentPaths, type IncludeFilter } from "./entry-path";
import type { FileIndexEntry } from "./file-index";
import { IndexVerifier } from "./index-verifier";
import { isEmptyDirectory } from "./source-guard";
import { Sha256 } from "../../lib/hash-thread";

/** File content is gathered into writes of about this size. */
const WRITE_BATCH = 1024 * 1024;
/**
 * Content is looked at in pieces of up to this size; a piece of zeros of at least a file system
 * block (HOLE_MIN) is not written but left as a hole (see #writeContent). Holes in disk images and
 * database files are far bigger than a piece, and a piece that straddles data costs its blocks.
 */
const HOLE_PIECE = 64 * 1024;
const HOLE_MIN = 4 * 1024;
const ZERO_PIECE = Buffer.alloc(HOLE_PIECE);

/** Whether `chunk[start, end)` is a hole-sized run of zeros; data is told apart by its first byte. */
function isZeros(chunk: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length < HOLE_MIN || chunk[start] !== 0) return false;
  return chunk
    .subarray(start, end)
    .equals(length === HOLE_PIECE ? ZERO_PIECE : ZERO_PIECE.subarray(0, length));
}
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface ExtractOptions {
  /** Absolute path of an existing directory. */
  destination: string;
  run: RunContext;
  include?: readonly string[];
  /** Regular files by path, from the snapshot's index: each written file's sha256 is checked. */
  expected?: Map<string, FileIndexEntry>;
  /** How to call the file system (see adaptive-calls.ts); default "adaptive". */
  io?: IoMode;
  /** Set owners from the archive; default: when running as root (as tar does). */
  sameOwner?: boolean;
  /** Wraps the destination's calls (destination-io.ts); for tests that need a destination to fail. */
  wrapCalls?: (calls: DestinationCalls) => DestinationCalls;
}

export interface ExtractStats extends RestoreStats {
  files: number;
  bytes: number;
  rejected: Array<{ path: string; reason: string; cause: RejectionCause }>;
  /** Files whose sha256 was checked against the index (0 without an index). */
  verified: number;
  /** Entries whose owner the destination refused to set (see OWNER_REFUSED): they keep the one it gave them. */
  ownersNotSet: number;
}

interface EntryMeta {
  mode: number;
  /** Milliseconds since the epoch. */
  mtime: number;
  uid: number;
  gid: number;
}

type Source = AsyncIterable<unknown> & {
  resume(): unknown;
  on(event: string, listener: () => void): unknown;
};

/** Reads a pax numeric record, if present and sane. */
function paxNumber(header: Header, key: string): number | undefined {
  const pax = header.pax as Record<string, string> | null | undefined;
  const text = pax?.[key];
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function metaOf(header: Header): EntryMeta {
  const paxMtime = paxNumber(header, "mtime");
  return {
    mode: header.mode & 0o7777,
    mtime: paxMtime === undefined ? header.mtime.getTime() : Math.round(paxMtime * 1000),
    uid: paxNumber(header, "uid") ?? header.uid,
    gid: paxNumber(header, "gid") ?? header.gid,
  };
}

/** Consumes an entry's data without using it (tar-stream needs it read before the next entry). */
function drain(stream: Source): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on("end", () => resolve());
    stream.on("error", () => reject(new Error("archive entry failed while being skipped")));
    stream.resume();
  });
}

async function writeAll(
  calls: DestinationCalls,
  fd: number,
  buffers: Buffer[],
  position: number,
): Promise<void> {
  let pending = buffers;
  let at = position;
  while (pending.length > 0) {
    const written = await calls.writev(fd, pending, at);
    at += written;
    // A short write (rare on regular files): drop what was written and go on with the rest.
    let skip = written;
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (skip >= buffer.length) {
        skip -= buffer.length;
        continue;
      }
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
    pending = rest;
  }
}

/**
 * When a file system says an entry came to be: its birth time where it keeps one (ext4, xfs, btrfs, SMB,
 * vfat), else its change time, which our own chmod and utimes move to "now" (not the mtime, which a
 * restore sets back to the archive's).
 */
function stampOf(stat: Stats): number {
  return stat.birthtimeMs > 0 ? stat.birthtimeMs : stat.ctimeMs;
}

/** A name as a file system that folds case and Unicode forms compares it (near enough to name the other). */
function folded(name: string): string {
  return name.normalize("NFC").toLowerCase();
}

/** The longest a forced restore waits for the destination's clock to tick past its first stamp (see markStart). */
const START_TICK_WAIT_MS = 2500;

/** Refusals whose reason names the entry restored first (each costs a listing of its folder). */
const COLLISIONS_NAMED = 20;

/** Where an entry whose name is taken is written first: beside it, so the rename that swaps it in is atomic. */
function stagingPath(abs: string): string {
  return join(dirname(abs), `.haven-restore-${randomBytes(6).toString("hex")}.partial`);
}

/** Why an entry is not restored, and whether the archive or the destination caused it. */
interface Refusal {
  reason: string;
  cause: RejectionCause;
}

const byArchive = (reason: string): Refusal => ({ reason, cause: "archive" });

/** An entry refused because `first`, restored before it, has a name the destination does not tell from its own. */
const collision = (first: string, prefix = ""): Refusal => ({
  reason: `${prefix}${JSON.stringify(first)} was restored first, and this file system does not tell the two names apart (letter case, Unicode form)`,
  cause: "name-collision",
});

/** Created at the entry's own name, or at a staged sibling (see stagingPath) when that is taken. */
type Created<T> = { value: T; staged?: string } | { refused: Refusal };

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Ownership is restored only by root (as tar does); others cannot give files away. */
const asRoot = process.getuid?.() === 0;

/**
 * How a destination says it cannot keep an owner, even for root: NFS with root_squash (EPERM), a user
 * namespace where the archive's uid is not mapped (EINVAL), a file system without owners (ENOTSUP).
 * GNU tar warns and goes on; so does a restore (see #setOwner). Other errors still fail it.
 */
const OWNER_REFUSED = new Set(["EPERM", "EINVAL", "ENOTSUP"]);
/** setuid and setgid: granted by whoever owns the file, so kept only when the archive's owner was set. */
const SET_ID_BITS = 0o6000;

/** One extraction; holds what is known about the destination while entries stream through. */
class Extraction {
  readonly stats: ExtractStats = { files: 0, bytes: 0, rejected: [], verified: 0, ownersNotSet: 0 };
  readonly #destination: string;
  readonly #run: RunContext;
  readonly #io: AdaptiveCalls<DestinationCalls>;
  readonly #included: IncludeFilter;
  readonly #verifier: IndexVerifier | undefined;
  readonly #sameOwner: boolean;
  /** Relative paths known to be real directories (checked with lstat, or made by us). "" is the destination. */
  readonly #realDirectories = new Set<string>([""]);
  /** Directory metadata from the archive, applied once their contents are written. */
  readonly #directoryMeta = new Map<string, EntryMeta>();
  /** Directories this extraction created or restored: the only ones whose metadata it sets. */
  readonly #touchedDirectories = new Set<string>();
  /** The first owner the destination refused, for the warning (see warnOwnersNotSet). */
  #firstOwnerRefusal: { path: string; code: string } | undefined;
  /** Symbolic links this extraction made: a parent found to be one of them came from the archive. */
  readonly #linksMade = new Set<string>();
  /** The destination held nothing when the extraction started: whatever is in the way came from the archive. */
  readonly #emptyAtStart: boolean;
  /** A forced restore's start by the destination's own clock (see markStart); undefined until then. */
  #startStamp: number | undefined;
  /** Name collisions refused so far: only the first COLLISIONS_NAMED look for the other spelling. */
  #collisions = 0;

  constructor(options: ExtractOptions, emptyAtStart: boolean) {
    this.#destination = options.destination;
    this.#emptyAtStart = emptyAtStart;
    this.#run = options.run;
    this.#io = destinationCalls(
      options.io ?? "adaptive",
      (slowShare) =>
        options.run.logger.info(
          { slowShare },
          "restore destination is slow: writing on the thread pool from now on",
        ),
      options.wrapCalls,
    );
    this.#sameOwner = options.sameOwner ?? asRoot;
    this.#included = includeMatcher(options.include);
    this.#verifier = options.expected === undefined ? undefined : new IndexVerifier(options.expected);
  }

  /**
   * Notes when a restore into a non-empty destination starts, as the destination stamps a new file:
   * its clock, not ours (a share's server may be minutes off), and its granularity. Stamps are coarse
   * (a few ms on ext4, more on some shares), so a file changed just before would share the start's
   * stamp and be taken for one this restore wrote: the start is the first stamp after the tick of the
   * first probe (usually a few ms of waiting; at most START_TICK_WAIT_MS). A few probe files per
   * restore, each created, stat'd and removed; an empty destination needs none (see #madeByThisRestore).
   */
  async markStart(): Promise<void> {
    if (this.#emptyAtStart) return;
    const before = await this.#probeStamp();
    const deadline = performance.now() + START_TICK_WAIT_MS;
    let start = await this.#probeStamp();
    while (start <= before && performance.now() < deadline) {
      await sleep(1);
      start = await this.#probeStamp();
    }
    this.#startStamp = start;
  }

  /** The stamp the destination gives a file created now (see stampOf). */
  async #probeStamp(): Promise<number> {
    const probe = stagingPath(this.#abs("probe"));
    await this.#calls.close(await this.#calls.open(probe, CREATE_FLAGS, 0o600));
    try {
      return stampOf(await this.#calls.lstat(probe));
    } finally {
      await this.#removeUnfinished(probe);
    }
  }

  /**
   * Whether `inTheWay`, found where an entry is to go, was put there by this restore: always when the
   * destination was empty at the start; in a forced restore, when it came to be (or changed) since the
   * start, by the destination's clock. Such an entry is never replaced: on a file system that folds
   * case or Unicode forms it is another entry of this restore under another spelling, and replacing it
   * (as an old file at the destination is replaced) lost it without a word.
   *
   * Chosen over remembering what was written (a Set of inodes or folded names: memory per file, and a
   * stat per new file) and over a listing per folder (a forced restore hits a taken name at every
   * file): it costs nothing on a fresh restore, and no call on a forced one beyond the lstat a taken
   * name already needs. What it gets wrong errs on the safe side, refused and reported: a file changed
   * at the destination while the restore runs, or, on a file system without birth times, an old file
   * whose change time moved because a hard link to it was replaced. Not detected: a file system whose
   * change time follows the mtime and that keeps no birth time (fusefat), and a clock set back mid-restore.
   */
  #madeByThisRestore(inTheWay: Stats): boolean {
    if (this.#emptyAtStart) return true;
    return this.#startStamp !== undefined && stampOf(inTheWay) >= this.#startStamp;
  }

  /** The refusal of an entry whose name this restore already used (see #madeByThisRestore). */
  async #nameTaken(path: string): Promise<Refusal> {
    const other = await this.#otherSpelling(path);
    if (other !== undefined) return collision(other);
    return {
      reason:
        "its name was taken during this restore: by an entry this file system does not tell apart from it " +
        "(letter case, Unicode form), a second copy in the archive, or a change made at the destination meanwhile",
      cause: "name-collision",
    };
  }

  /**
   * The path beside `path` whose name folds to the same as its own, if any: looked for only for the
   * first COLLISIONS_NAMED collisions, as each reads the whole folder.
   */
  async #otherSpelling(path: string): Promise<string | undefined> {
    if (++this.#collisions > COLLISIONS_NAMED) return undefined;
    const name = basename(path);
    const names = await this.#calls.readdir(dirname(this.#abs(path)));
    const other = names.find((candidate) => candidate !== name && folded(candidate) === folded(name));
    return other === undefined ? undefined : join(dirname(path), other);
  }

  /** The calls to use now (the adaptive choice may change between entries). */
  get #calls(): DestinationCalls {
    return this.#io.calls;
  }

  #abs(path: string): string {
    return join(this.#destination, path);
  }

  #reject(path: string, { reason, cause }: Refusal): void {
    this.stats.rejected.push({ path, reason, cause });
    this.#run.logger.warn(
      { path, reason, cause },
      `restore: refused archive entry ${JSON.stringify(path)}: ${reason}`,
    );
  }

  async entry(header: Header, stream: Source): Promise<void> {
    const checked = normalizeEntryPath(header.name);
    if (!checked.ok) {
      this.#reject(header.name, byArchive(checked.reason));
      return drain(stream);
    }
    const { path } = checked;
    if (path === "") return drain(stream); // the archive root: the destination already exists
    if (header.type === "directory") this.#directoryMeta.set(path, metaOf(header));
    if (!this.#included(path)) return drain(stream);
    try {
      return await this.#restoreEntry(path, header, stream);
    } catch (error) {
      // A name the source file system allowed and this one does not: refuse the entry, go on.
      if (errnoCode(error) !== "ENAMETOOLONG") throw error;
      this.#reject(path, { reason: "name too long for the destination's file system", cause: "destination" });
      return drain(stream);
    }
  }

  async #restoreEntry(path: string, header: Header, stream: Source): Promise<void> {
    switch (header.type) {
      case "directory":
        return this.#withParents(path, stream, () => this.#directory(path));
      case "file":
      case "contiguous-file":
        return this.#withParents(path, stream, () => this.#file(path, header, stream), true);
      case "symlink":
        return this.#withParents(path, stream, () => this.#symlink(path, header));
      case "link":
        return this.#withParents(path, stream, () => this.#hardLink(path, header));
      case "character-device":
      case "block-device":
      case "fifo":
        this.#reject(path, byArchive(`${header.type} entries are not restored`));
        return drain(stream);
      default:
        this.#reject(path, byArchive(`unsupported entry type ${String(header.type)}`));
        return drain(stream);
    }
  }

  /**
   * Runs `write` once the parents are safe; it returns a rejection reason or undefined. `consumes`:
   * unless it refuses, `write` reads the entry's data itself; otherwise the data is drained here.
   */
  async #withParents(
    path: string,
    stream: Source,
    write: () => Promise<Refusal | undefined>,
    consumes = false,
  ): Promise<void> {
    const refused = (await this.#prepareParents(path, true)) ?? (await write());
    if (refused !== undefined) this.#reject(path, refused);
    if (refused !== undefined || !consumes) await drain(stream);
  }

  /**
   * Makes sure every parent of `path` is a real directory inside the destination, creating missing
   * ones when `create`. Returns why not, when a parent is a symlink, a file, or missing.
   */
  async #prepareParents(path: string, create: boolean): Promise<Refusal | undefined> {
    for (const parent of parentPaths(path)) {
      if (this.#realDirectories.has(parent)) continue;
      const abs = this.#abs(parent);
      if (create && (await this.#tryCreate(() => this.#calls.mkdir(abs, 0o700)))) {
        this.#touchedDirectories.add(parent);
      } else {
        let stat;
        try {
          stat = await this.#calls.lstat(abs);
        } catch (error) {
          // Only for a hard link's target (create false): its parent should have come before it.
          if (errnoCode(error) === "ENOENT")
            return byArchive(`parent ${JSON.stringify(parent)} does not exist`);
          throw error;
        }
        if (stat.isSymbolicLink()) {
          return this.#foundInTheWay(
            `parent ${JSON.stringify(parent)} is a symbolic link`,
            this.#linksMade.has(parent),
          );
        }
        if (!stat.isDirectory()) {
          // A file this restore wrote under another spelling of the folder's name: say so.
          const other = this.#madeByThisRestore(stat) ? await this.#otherSpelling(parent) : undefined;
          if (other !== undefined) return collision(other, `parent ${JSON.stringify(parent)}: `);
          return this.#foundInTheWay(`parent ${JSON.stringify(parent)} is not a directory`, false);
        }
      }
      this.#realDirectories.add(parent);
    }
    return undefined;
  }

  /** Runs a create-only call: true when it created, false when something already exists there. */
  async #tryCreate(create: () => unknown): Promise<boolean> {
    try {
      await create();
      return true;
    } catch (error) {
      if (errnoCode(error) === "EEXIST") return false;
      throw error;
    }
  }

  /**
   * A refusal for something found at the destination: caused by the archive when this extraction put
   * it there (`madeHere`, or the destination was empty), by the destination otherwise. A regular file
   * made by an earlier entry of a forced restore into a non-empty folder is not tracked (that would
   * cost memory per file, for archives no backup writes): it counts as the destination's.
   */
  #foundInTheWay(reason: string, madeHere: boolean): Refusal {
    return { reason, cause: madeHere || this.#emptyAtStart ? "archive" : "destination" };
  }

  /**
   * Runs the create-only `create` at `path`, or at a staged sibling when something other than a
   * directory is there (a directory in the way is refused).
   */
  async #createOrStage<T>(path: string, create: (at: string) => Promise<T> | T): Promise<Created<T>> {
    const abs = this.#abs(path);
    let value: T | undefined;
    if (await this.#tryCreate(async () => (value = await create(abs)))) return { value: value as T };
    const inTheWay = await this.#calls.lstat(abs);
    if (inTheWay.isDirectory()) {
      return {
        refused: this.#foundInTheWay("a directory is in the way", this.#touchedDirectories.has(path)),
      };
    }
    if (this.#madeByThisRestore(inTheWay)) return { refused: await this.#nameTaken(path) };
    const staged = stagingPath(abs);
    return { value: await create(staged), staged };
  }

  /** Creates a link at `path` (see #createOrStage), swapping it in at once when staged. */
  async #createReplacing(path: string, create: (at: string) => unknown): Promise<Refusal | undefined> {
    const created = await this.#createOrStage(path, create);
    if ("refused" in created) return created.refused;
    if (created.staged !== undefined) await this.#swapIn(created.staged, this.#abs(path));
    return undefined;
  }

  /** Renames a complete staged entry over `abs`; removes it when that fails. */
  async #swapIn(staged: string, abs: string): Promise<void> {
    try {
      await this.#calls.rename(staged, abs);
    } catch (error) {
      await this.#removeUnfinished(staged);
      throw error;
    }
  }

  async #removeUnfinished(path: string): Promise<void> {
    try {
      await this.#calls.unlink(path);
    } catch {
      // Already gone, or the destination failed: the error being reported says more than this one.
    }
  }

  async #directory(path: string): Promise<Refusal | undefined> {
    const abs = this.#abs(path);
    if (!(await this.#tryCreate(() => this.#calls.mkdir(abs, 0o700)))) {
      const inTheWay = await this.#calls.lstat(abs);
      if (!inTheWay.isDirectory()) {
        // A file or symlink left there: the archive says directory. One this restore wrote stays.
        if (this.#madeByThisRestore(inTheWay)) return this.#nameTaken(path);
        await this.#calls.unlink(abs);
        await this.#calls.mkdir(abs, 0o700);
      }
    }
    this.#realDirectories.add(path);
    this.#touchedDirectories.add(path);
    return undefined;
  }

  async #file(path: string, header: Header, stream: Source): Promise<Refusal | undefined> {
    const abs = this.#abs(path);
    const created = await this.#createOrStage(path, (at) => this.#calls.open(at, CREATE_FLAGS, 0o600));
    if ("refused" in created) return created.refused;
    const { value: fd, staged } = created;
    const meta = metaOf(header);
    const hash = this.#verifier === undefined ? undefined : new Sha256();
    const calls = this.#calls; // one set for the whole file, even if the choice changes meanwhile
    let size: number;
    try {
      size = await this.#writeContent(calls, fd, stream, hash);
      // Owner first: chown clears setuid and setgid, for root too, so the mode must come after it.
      const owned = await this.#setOwner(path, () => calls.fchown(fd, meta.uid, meta.gid));
      await calls.fchmod(fd, this.#modeFor(meta, owned));
      const time = new Date(meta.mtime);
      await calls.futimes(fd, time, time);
    } catch (error) {
      hash?.discard();
      // A file cut short (a full disk, a truncated payload, a cancel) is never left under its own
      // name, where it would pass for restored; the snapshot still holds it whole.
      await this.#removeUnfinished(staged ?? abs);
      throw error;
    } finally {
      await calls.close(fd);
    }
    // A new file is checked in the background; a replacement must match before it is swapped in.
    const matches =
      hash === undefined
        ? undefined
        : this.#verifier?.check(path, hash.digest({ batched: staged === undefined }));
    if (staged !== undefined) {
      if (matches !== undefined && !(await matches)) {
        await this.#removeUnfinished(staged);
        this.#run.logger.warn(
          { path },
          "restore: kept the existing file: its copy in the snapshot failed verification",
        );
        return undefined;
      }
      await this.#swapIn(staged, abs);
    }
    this.stats.files++;
    this.stats.bytes += size;
    return undefined;
  }

  /**
   * Writes the entry's content and returns its size. Pieces of zeros (see HOLE_PIECE; a VM disk's
   * unused space, a preallocated database file) are skipped over instead of written, so they stay holes: a
   * sparse file restores sparse (GNU tar without -S and restic without --sparse write every zero),
   * no bigger on disk than it was, and its length is set at the end. Reading it gives the same bytes.
   */
  async #writeContent(
    calls: DestinationCalls,
    fd: number,
    stream: Source,
    hash: Sha256 | undefined,
  ): Promise<number> {
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let position = 0;
    let holes = false;
    const add = (bytes: Buffer) => {
      if (bytes.length === 0) return;
      batch.push(bytes);
      batchBytes += bytes.length;
    };
    const flush = async () => {
      if (batchBytes > 0) await writeAll(calls, fd, batch, position);
      position += batchBytes;
      batch = [];
      batchBytes = 0;
    };
    for await (const data of stream) {
      const chunk = data as Buffer;
      if (hash !== undefined) {
        hash.update(chunk);
        await hash.room();
      }
      // The chunk goes to the batch whole unless a piece of it is a hole: data is not cut up.
      let unwritten = 0;
      for (let at = 0; at < chunk.length; at += HOLE_PIECE) {
        const end = Math.min(chunk.length, at + HOLE_PIECE);
        if (!isZeros(chunk, at, end)) continue;
        add(chunk.subarray(unwritten, at));
        await flush();
        position += end - at;
        holes = true;
        unwritten = end;
      }
      add(chunk.subarray(unwritten));
      if (batchBytes >= WRITE_BATCH) await flush();
    }
    await flush();
    // A file that ends in a hole has no byte written at its end: its length is set here.
    if (holes) await calls.ftruncate(fd, position);
    return position;
  }

  /**
   * Gives `path` the archive's owner (with `chown`) when restoring owners. False when not restoring
   * them, or when the destination refused (OWNER_REFUSED): the entry is restored all the same and
   * counted, as GNU tar warns and goes on; one warning at the end says how many.
   */
  async #setOwner(path: string, chown: () => unknown): Promise<boolean> {
    if (!this.#sameOwner) return false;
    try {
      await chown();
      return true;
    } catch (error) {
      const code = errnoCode(error);
      if (code === undefined || !OWNER_REFUSED.has(code)) throw error;
      this.stats.ownersNotSet++;
      this.#firstOwnerRefusal ??= { path, code };
      return false;
    }
  }

  /**
   * The archive's mode, without setuid and setgid when the owner was refused: the entry then belongs
   * to whoever the destination made its owner (root, nobody), and the bits would grant that user's
   * rights instead of the archived owner's.
   */
  #modeFor(meta: EntryMeta, owned: boolean): number {
    return this.#sameOwner && !owned ? meta.mode & ~SET_ID_BITS : meta.mode;
  }

  /** One warning for all the owners the destination refused (see #setOwner). */
  warnOwnersNotSet(): void {
    const first = this.#firstOwnerRefusal;
    const count = this.stats.ownersNotSet;
    if (first === undefined) return;
    this.#run.warn(
      `could not set the owner of ${count} restored ${count === 1 ? "entry" : "entries"}: the destination refused it ` +
        `(${first.code}, first on ${JSON.stringify(first.path)}); they keep the owner the destination gave them, ` +
        "without setuid/setgid bits. Set the owners by hand, or restore onto a file system where root may set them " +
        "(not NFS with root_squash, nor a user namespace that lacks those ids)",
      { ownersNotSet: count, code: first.code, firstPath: first.path },
    );
  }

  async #symlink(path: string, header: Header): Promise<Refusal | undefined> {
    const target = header.linkname;
    if (!target) return byArchive("symbolic link without a target");
    if (target.includes("\0")) return byArchive("symbolic link target contains a NUL byte");
    const abs = this.#abs(path);
    const blocked = await this.#createReplacing(path, (at) => this.#calls.symlink(target, at));
    if (blocked !== undefined) return blocked;
    this.#linksMade.add(path);
    const meta = metaOf(header);
    await this.#setOwner(path, () => this.#calls.lchown(abs, meta.uid, meta.gid));
    const time = new Date(meta.mtime);
    await this.#calls.lutimes(abs, time, time);
    return undefined;
  }

  /** Haven's archives hold no hard links: they come from other tools' archives, checked as hostile. */
  async #hardLink(path: string, header: Header): Promise<Refusal | undefined> {
    const target = normalizeEntryPath(header.linkname ?? "");
    if (!target.ok || target.path === "") {
      return byArchive(`hard link to ${JSON.stringify(header.linkname)}: target outside the destination`);
    }
    const unsafeTarget = await this.#prepareParents(target.path, false);
    if (unsafeTarget !== undefined)
      return { ...unsafeTarget, reason: `hard link target: ${unsafeTarget.reason}` };
    const targetAbs = this.#abs(target.path);
    let targetStat: Stats;
    try {
      targetStat = await this.#calls.lstat(targetAbs);
      if (!targetStat.isFile()) return byArchive("hard link target is not a regular file");
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
      return byArchive(`hard link target ${JSON.stringify(target.path)} was not restored`);
    }
    if (await this.#isSameFile(path, targetStat)) {
      // Already linked (an earlier restore): rename() of one name of a file over another is a no-op
      // that succeeds, so a staged link would stay behind as a stray `.partial` file.
      this.stats.files++;
      return undefined;
    }
    const blocked = await this.#createReplacing(path, (at) => this.#calls.link(targetAbs, at));
    if (blocked !== undefined) return blocked;
    this.stats.files++;
    return undefined;
  }

  /** Whether `path` exists and is the file `other` describes (same device and inode). */
  async #isSameFile(path: string, other: Stats): Promise<boolean> {
    try {
      const stat = await this.#calls.lstat(this.#abs(path));
      return stat.dev === other.dev && stat.ino === other.ino;
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
      return false;
    }
  }

  /** Directory modes and mtimes, deepest first, once nothing more is written inside them. */
  async finishDirectories(): Promise<void> {
    const paths = [...this.#touchedDirectories].sort((a, b) => b.split("/").length - a.split("/").length);
    for (const path of paths) {
      // Real directories only (see #realDirectories), so chmod and utimes follow no link.
      const abs = this.#abs(path);
      const meta = this.#directoryMeta.get(path);
      if (meta === undefined) {
        // Created only as a parent of an included entry, and not in the archive: usual permissions.
        await this.#calls.chmod(abs, 0o755);
        continue;
      }
      const owned = await this.#setOwner(path, () => this.#calls.lchown(abs, meta.uid, meta.gid));
      await this.#calls.chmod(abs, this.#modeFor(meta, owned));
      const time = new Date(meta.mtime);
      await this.#calls.utimes(abs, time, time);
    }
  }

  /** Throws USAGE naming the `--include` patterns that matched nothing in the whole archive. */
  checkIncludes(): void {
    const unmatched = this.#included.unmatched();
    if (unmatched.length === 0) return;
    throw new HavenError(
      "USAGE",
      `--include matched nothing in this snapshot: ${unmatched.map((pattern) => JSON.stringify(pattern)).join(", ")}${this.stats.files > 0 ? ` (the other patterns restored ${this.stats.files} files)` : ""}`,
      {
        hint: "patterns are paths relative to the share's root, matched case-sensitively: a folder (docs) takes its whole tree, * stays within one folder, ** crosses folders (docs/**/*.txt)",
      },
    );
  }

  /** Throws INTEGRITY when files differ from the index (or index files are missing from the archive). */
  async checkIntegrity(): Promise<void> {
    if (this.#verifier === undefined) return;
    const refused = new Set(this.stats.rejected.map((r) => r.path));
    try {
      await this.#verifier.finish((path) => this.#included(path) && !refused.has(path), this.#run.logger);
    } finally {
      this.stats.verified = this.#verifier.verified;
    }
  }
}

function classify(error: unknown, destination: string): HavenError {
  if (isHavenError(error)) return error;
  const err = error as NodeJS.ErrnoException;
  if (err.name === "AbortError") return new HavenError("CANCELLED", "restore cancelled", { cause: error });
  if (typeof err.code === "string") {
    return new HavenError("PERMANENT", `restore into ${destination} failed: ${err.message}`, {
      cause: error,
      hint:
        err.code === "ENOSPC"
          ? "free space at the destination or restore elsewhere with --to"
          : "check the destination's permissions and free space, then run the restore again",
    });
  }
  return new HavenError("INTEGRITY", `the archive is corrupt or truncated: ${err.message}`, {
    cause: error,
    hint: "run haven verify on this snapshot, or restore an older one",
  });
}

/**
 * Extracts `body` (a plain tar stream) into `options.destination`. Resolves with what was written and
 * what was refused; rejects on a corrupt archive, a write failure, cancellation, or (with an index)
 * files that fail verification: after the whole stream was consumed or destroyed.
 */
export async function extractTar(body: Readable, options: ExtractOptions): Promise<ExtractStats> {
  let emptyAtStart: boolean;
  try {
    emptyAtStart = await isEmptyDirectory(options.destination);
  } catch (error) {
    body.destroy();
    throw classify(error, options.destination);
  }
  const extraction = new Extraction(options, emptyAtStart);
  try {
    await extraction.markStart();
  } catch (error) {
    body.destroy();
    throw classify(error, options.destination);
  }
  const extract = tarExtract();
  extract.on("entry", (header, stream, next) => {
    // The entry is read or skipped only after some awaits (mkdir, open); a failure meanwhile (a
    // corrupt payload, a destination error, cancellation) destroys it with the error, which the
    // pipeline reports. Without a listener from the start that 'error' event would crash the process.
    stream.on("error", () => undefined);
    extraction.entry(header, stream).then(
      () => next(),
      (error: unknown) => next(error as Error),
    );
  });
  try {
    await pipeline(body, extract, { signal: options.run.signal });
    await extraction.finishDirectories();
  } catch (error) {
    throw classify(error, options.destination);
  }
  extraction.warnOwnersNotSet();
  await extraction.checkIntegrity();
  extraction.checkIncludes();
  return extraction.stats;
}
