/**
 * The filesystem backend: a destination that is a local directory or a mounted share (NFS, SMB).
 *
 * Layout on disk: the object `a/b/c` of a destination with prefix `p/` is the file `<root>/p/a/b/c`.
 * A put writes `.<name>.haven-tmp-<12 hex>` next to its final name, fsyncs it, moves it into place
 * (rename, or link + unlink for create-only puts) and fsyncs the directory, so a crash at any point
 * leaves either the old state or the whole new object, plus at worst a temp file that
 * `listIncomplete` reports and maintenance removes. Listings never show temp files.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { constants, type Dirent, type Stats } from "node:fs";
import { access, mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import { fsyncDirectory, linkNoReplace } from "../lib/durable-file";
import { HavenError } from "../lib/errors";
import { HashingStream } from "../lib/hashing";
import { silentLogger } from "../lib/logger";
import { EarlyWriteback } from "./early-writeback";
import { classifyFsError } from "./fs-errors";
import { assertValidKey, assertValidPrefix, directoryOf } from "./keys";
import { FailureTracker, abortError, alreadyExistsError, cancelledError, putError } from "./put-failure";
import { assertValidRange } from "./range";
import type {
  GetOptions,
  IncompleteUpload,
  ObjectInfo,
  PutOptions,
  PutResult,
  StorageBackend,
  StorageCapabilities,
} from "./types";

/**
 * Snapshots hold database dumps and whole shares, unencrypted unless the config says otherwise: the
 * folders and files Haven creates are for its own user only, whatever the umask (existing folders
 * keep the modes the operator gave them).
 */
const PRIVATE_DIRECTORY = 0o700;
const PRIVATE_FILE = 0o600;

/** `.<name>.haven-tmp-<12 hex>`: hidden, and marked as Haven's own incomplete upload. */
const TEMP_NAME = /^\.(.+)\.haven-tmp-[0-9a-f]{12}$/;
/** Large reads and writes: fewer syscalls and stream callbacks per byte (the bench wants 200+ MB/s). */
const IO_CHUNK = 1 << 20;
const WRITE_BUFFER = 8 << 20;
export interface FilesystemBackendOptions {
  /** The destination's name in the config. */
  name: string;
  /** The root directory; created on first write. */
  path: string;
  /** Prepended to every key, like an S3 prefix ("prod/"). Default "". */
  prefix?: string;
  logger?: Logger;
}

export function createFilesystemBackend(options: FilesystemBackendOptions): StorageBackend {
  return new FilesystemBackend(options);
}

interface TempFile {
  handle: FileHandle;
  path: string;
  /** The first directory mkdir created for it, if any (those need an fsync of their parent). */
  createdDir?: string;
}

interface WalkEntry {
  /** Path relative to the root, with "/" separators. */
  relative: string;
  name: string;
  isDirectory: boolean;
  dirent: Dirent;
}

class FilesystemBackend implements StorageBackend {
  readonly name: string;
  readonly location: string;
  /** link() gives an atomic create-only put; on filesystems without hard links we fall back to
   * check-then-rename and log it. */
  readonly capabilities: StorageCapabilities = { createOnly: true, objectLock: false };
  readonly #root: string;
  readonly #prefix: string;
  readonly #logger: Logger;

  constructor(options: FilesystemBackendOptions) {
    this.name = options.name;
    this.#root = resolve(options.path);
    this.#prefix = options.prefix ?? "";
    assertValidPrefix(this.#prefix, options.name);
    const shownPrefix = this.#prefix.replace(/\/+$/, "");
    this.location = shownPrefix ? `${this.#root}/${shownPrefix}` : this.#root;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Streams body into a temp file, then moves it into place. Before the body is read (bad key,
   * create-only key taken, directory not writable) it is left untouched; once reading began, a
   * failure destroys it and removes the temp file.
   */
  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<PutResult> {
    const target = this.#pathOf(key);
    const dir = dirname(target);
    if (opts.signal?.aborted) throw cancelledError(`put ${key} on ${this.name}`, opts.signal.reason);
    // Watch the body from the first moment: it may fail while we prepare, and must not crash the process.
    const failures = new FailureTracker();
    failures.watchBody(body);
    let temp: TempFile;
    try {
      await this.#assertRootPresent();
      if (opts.createOnly && (await this.#exists(target, key))) throw alreadyExistsError(key, this);
      temp = await this.#openTemp(dir, basename(target));
    } catch (error) {
      failures.dispose();
      throw this.#error(error, "put", key);
    }
    const writeback = new EarlyWriteback(temp.handle);
    const hasher = new HashingStream((total) => {
      writeback.wrote(total);
      opts.onProgress?.(total);
    });
    // flush: the stream fsyncs the file before closing it, and the pipeline settles only after that.
    const sink = temp.handle.createWriteStream({ highWaterMark: WRITE_BUFFER, flush: true });
    sink.once("error", (error) => failures.fail("storage", error));
    failures.watchSignal(opts.signal, (reason) => hasher.destroy(abortError(reason)));
    try {
      await pipeline(body, hasher, sink);
      // Last moment a cancellation can still leave nothing behind.
      if (opts.signal?.aborted) failures.fail("cancelled", opts.signal.reason);
      if (failures.failure) throw failures.failure.error;
      if (opts.createOnly) await this.#linkNoReplace(temp.path, target, key);
      else await rename(temp.path, target);
      await syncDirectories(dir, temp.createdDir);
      const info = await stat(target);
      return { key, size: hasher.bytes, lastModified: new Date(info.mtimeMs), sha256: hasher.sha256 };
    } catch (error) {
      if (!sink.closed) {
        sink.destroy();
        await once(sink, "close").catch(() => undefined);
      }
      await unlink(temp.path).catch(() => undefined);
      await this.#pruneEmptyDirectories(dir);
      throw putError(error, failures, key, this, (e) => this.#error(e, "put", key));
    } finally {
      failures.dispose();
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const path = this.#pathOf(key);
    if (opts.range) assertValidRange(opts.range);
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, "r");
      // open() succeeds on a directory; a directory is not an object.
      if (!(await handle.stat()).isFile())
        throw Object.assign(new Error(`not a file: ${path}`), { code: "ENOENT" });
    } catch (error) {
      await handle?.close().catch(() => undefined);
      throw this.#error(error, "get", key);
    }
    const stream = handle.createReadStream({
      highWaterMark: IO_CHUNK,
      ...(opts.range ? { start: opts.range[0], end: opts.range[1] } : {}),
    });
    if (opts.signal) addAbortSignal(opts.signal, stream);
    return stream;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const info = await this.#statFile(this.#pathOf(key), key);
    return info ? { key, size: info.size, lastModified: new Date(info.mtimeMs) } : null;
  }

  /** Walks directories depth first in key order: a directory `a` sorts as `a/`, so `a-b` < `a/x`. */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix, this.name);
    // An unmounted share lists as empty: that must read as an error, not as "no snapshots".
    await this.#assertRootPresent();
    const full = this.#prefix + prefix;
    for await (const entry of this.#walk(directoryOf(full), full)) {
      if (TEMP_NAME.test(entry.name) || !entry.relative.startsWith(full)) continue;
      const info = await this.#statFile(this.#absolute(entry.relative));
      if (info) {
        yield {
          key: entry.relative.slice(this.#prefix.length),
          size: info.size,
          lastModified: new Date(info.mtimeMs),
        };
      }
    }
  }

  async remove(keys: string[]): Promise<void> {
    const paths = keys.map((key) => this.#pathOf(key));
    for (const [index, path] of paths.entries()) {
      try {
        await unlink(path);
      } catch (error) {
        // Missing (or a directory, which is not an object): nothing to remove.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "ENOTDIR" && code !== "EISDIR") {
          throw this.#error(error, "remove", keys[index]);
        }
      }
      await this.#pruneEmptyDirectories(dirname(path));
    }
  }

  /**
   * Temp files of puts that have not finished: those of crashed runs, and those still being written.
   * `startedAt` is the temp file's mtime, i.e. its last write, so a put still in progress always
   * looks recent and survives maintenance's grace period.
   */
  async *listIncomplete(prefix: string): AsyncIterable<IncompleteUpload> {
    assertValidPrefix(prefix, this.name);
    const full = this.#prefix + prefix;
    for await (const entry of this.#walk(directoryOf(full), full)) {
      const finalName = TEMP_NAME.exec(entry.name)?.[1];
      if (finalName === undefined) continue;
      const dirPart = directoryOf(entry.relative);
      const finalKey = dirPart ? `${dirPart}/${finalName}` : finalName;
      if (!finalKey.startsWith(full)) continue;
      const info = await this.#statFile(this.#absolute(entry.relative));
      if (info)
        yield {
          key: finalKey.slice(this.#prefix.length),
          startedAt: new Date(info.mtimeMs),
          id: entry.relative,
        };
    }
  }

  async abortIncomplete(upload: IncompleteUpload): Promise<void> {
    assertValidKey(upload.id, this.name);
    if (!TEMP_NAME.test(basename(upload.id)) || !upload.id.startsWith(this.#prefix)) {
      throw new HavenError("PERMANENT", `${upload.id} is not an incomplete upload on ${this.name}`, {
        hint: "pass an upload returned by listIncomplete",
      });
    }
    const path = this.#absolute(upload.id);
    await unlink(path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        throw this.#error(error, "abort upload", upload.key);
    });
    await this.#pruneEmptyDirectories(dirname(path));
  }

  async probe(): Promise<void> {
    await this.#assertRootPresent();
    try {
      await access(this.#root, constants.R_OK | constants.W_OK);
    } catch (error) {
      throw this.#error(error, "probe");
    }
  }

  /**
   * The destination's root is never created here, only what lies below it: a root missing is most
   * often a share (NFS, SMB) that is not mounted, and creating it would put the backups on the local
   * disk, where they look fine until the machine is lost.
   */
  async #assertRootPresent(): Promise<void> {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(this.#root)).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw this.#error(error, "check");
      isDirectory = false;
    }
    if (isDirectory) return;
    throw new HavenError(
      "PERMANENT",
      `destination ${this.name}: ${this.#root} does not exist or is not a directory`,
      {
        hint: `check destinations.${this.name}.path. If it lives on a share (NFS, SMB), mount the share; for a new destination, create it (mkdir -p ${this.#root}). Haven never creates a destination's root, so that an unmounted share cannot receive backups on the local disk`,
      },
    );
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  /** The absolute path of a key; validation guarantees it is inside the root. */
  #pathOf(key: string): string {
    assertValidKey(key, this.name);
    if (key.split("/").some((segment) => TEMP_NAME.test(segment))) {
      throw new HavenError(
        "PERMANENT",
        `refusing object key ${JSON.stringify(key)} on ${this.name}: it names a temp file`,
        {
          hint: "names of the form .<name>.haven-tmp-<hex> are reserved for uploads in progress",
        },
      );
    }
    const full = this.#prefix + key;
    assertValidKey(full, this.name);
    return this.#absolute(full);
  }

  #absolute(relative: string): string {
    return relative === "" ? this.#root : join(this.#root, ...relative.split("/"));
  }

  /** Yields the entries under `dirRelative` that can hold keys starting with `prefix`, in key order. */
  async *#walk(dirRelative: string, prefix: string): AsyncGenerator<WalkEntry> {
    let dirents: Dirent[];
    try {
      dirents = await readdir(this.#absolute(dirRelative), { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw this.#error(error, "list", prefix);
    }
    const entries = dirents
      .map((dirent) => {
        const relative = dirRelative ? `${dirRelative}/${dirent.name}` : dirent.name;
        const isDirectory = dirent.isDirectory();
        return {
          relative,
          name: dirent.name,
          isDirectory,
          dirent,
          order: Buffer.from(isDirectory ? `${relative}/` : relative),
        };
      })
      .sort((a, b) => Buffer.compare(a.order, b.order));
    for (const entry of entries) {
      if (entry.isDirectory) {
        const asPrefix = `${entry.relative}/`;
        if (asPrefix.startsWith(prefix) || prefix.startsWith(asPrefix))
          yield* this.#walk(entry.relative, prefix);
      } else if (entry.dirent.isFile() || entry.dirent.isSymbolicLink()) {
        yield entry;
      }
    }
  }

  /** stat() of a regular file; null when missing or not a file. */
  async #statFile(path: string, key?: string): Promise<Stats | null> {
    try {
      const info = await stat(path);
      return info.isFile() ? info : null;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw this.#error(error, "stat", key);
    }
  }

  async #exists(path: string, key: string): Promise<boolean> {
    return (await this.#statFile(path, key)) !== null;
  }

  /** mkdir -p, then an exclusive create of a fresh temp name. A concurrent remove may prune the
   * directory between the two steps, hence the retry. */
  async #openTemp(dir: string, name: string): Promise<TempFile> {
    for (let attempt = 1; ; attempt++) {
      const createdDir = await mkdir(dir, { recursive: true, mode: PRIVATE_DIRECTORY });
      const path = join(dir, `.${name}.haven-tmp-${randomBytes(6).toString("hex")}`);
      try {
        return { handle: await open(path, "wx", PRIVATE_FILE), path, ...(createdDir ? { createdDir } : {}) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 3) throw error;
      }
    }
  }

  /** An atomic create-only commit on POSIX (see linkNoReplace). */
  async #linkNoReplace(temp: string, target: string, key: string): Promise<void> {
    let how: "linked" | "renamed";
    try {
      how = await linkNoReplace(temp, target, (path) => this.#exists(path, key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw alreadyExistsError(key, this);
      throw error;
    }
    if (how === "renamed") {
      this.#logger.warn(
        { destination: this.name, key },
        "filesystem has no hard links; create-only put falls back to check-then-rename (not atomic)",
      );
    }
  }

  /** rmdir upwards until a directory is not empty, stopping at the root. */
  async #pruneEmptyDirectories(dir: string): Promise<void> {
    let current = dir;
    while (current !== this.#root && current.startsWith(this.#root) && current !== dirname(current)) {
      try {
        await rmdir(current);
      } catch (error) {
        // ENOENT: a concurrent remove got there first, its parent may be empty now.
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") return;
      }
      current = dirname(current);
    }
  }

  #error(error: unknown, operation: string, key?: string): HavenError {
    return classifyFsError(error, {
      destination: this.name,
      root: this.#root,
      operation,
      ...(key === undefined ? {} : { key }),
    });
  }
}

/** fsync the directory that got the new entry, and every directory this put created, so the
 * new names survive a power cut. */
async function syncDirectories(dir: string, createdDir: string | undefined): Promise<void> {
  const dirs = [dir];
  if (createdDir) {
    const stop = dirname(createdDir);
    for (let current = dir; current !== stop && current !== dirname(current);) {
      current = dirname(current);
      dirs.push(current);
    }
  }
  for (const path of dirs) await fsyncDirectory(path);
}
