/**
 * Writes loaded entries into a tar-stream pack, one at a time and with backpressure: headers, content
 * (small files in one piece, large ones streamed from their descriptor), each file's sha256 into the
 * index, and a `run.warn` for every file that changed while it was read.
 */
import type { Pack } from "tar-stream";
import { Sha256, sha256Of, sha256Room } from "../../lib/hash-thread";
import type { RunContext } from "../types";
import type { AdaptiveCalls } from "./adaptive-calls";
import type { FileIndexBuilder } from "./file-index";
import { changedSince, type LoadedEntry } from "./source-entry";
import type { FileSystemCalls } from "./source-io";
import { tarHeader, type TarHeader } from "./tar-header";
import type { WalkEntry } from "./walk";

/** Read size for large files. */
export const LARGE_FILE_CHUNK = 1024 * 1024;
/** Shared and never written to, so every padded hole can reuse it. */
const ZEROS = Buffer.alloc(LARGE_FILE_CHUNK);

/** A type rather than an interface so it fits BackupStats' index signature. */
export type ArchiveStats = {
  /** Regular files archived. */
  files: number;
  /** Content bytes of those files, as archived. */
  bytes: number;
};

type Sink = ReturnType<Pack["entry"]>;

/**
 * Adds one entry. `done` resolves when tar-stream is finished with it, which is when its data was
 * taken downstream (backpressure). Without `data`, the caller streams the content into `sink`.
 */
function openEntry(pack: Pack, header: TarHeader, data?: Buffer): { sink: Sink; done: Promise<void> } {
  let settle: (error?: Error | null) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  done.catch(() => undefined); // awaited by the caller; this only keeps an early rejection from counting as unhandled
  const sink = data === undefined ? pack.entry(header, settle) : pack.entry(header, data, settle);
  // The callback gets the error; without a listener, a destroyed sink's "error" event would throw.
  sink.on("error", () => undefined);
  return { sink, done };
}

/** Waits until `sink` accepts more data, or rejects if it is destroyed meanwhile. */
export function drained(sink: Sink): Promise<void> {
  return new Promise((resolve, reject) => {
    // Destroyed already (the archive's reader went away): its "close" has fired, and no "drain" will.
    if (sink.destroyed) {
      reject(new Error("tar entry closed while writing"));
      return;
    }
    const cleanup = () => {
      sink.removeListener("drain", onDrain);
      sink.removeListener("close", onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error("tar entry closed while writing"));
    };
    sink.on("drain", onDrain);
    sink.on("close", onClose);
  });
}

export class TarEntryWriter {
  readonly stats: ArchiveStats = { files: 0, bytes: 0 };
  readonly #pack: Pack;
  readonly #io: AdaptiveCalls<FileSystemCalls>;
  readonly #index: FileIndexBuilder;
  readonly #run: RunContext;

  constructor(pack: Pack, io: AdaptiveCalls<FileSystemCalls>, index: FileIndexBuilder, run: RunContext) {
    this.#pack = pack;
    this.#io = io;
    this.#index = index;
    this.#run = run;
  }

  /** Writes one entry (or reports why it is left out); resolves once the next one may be written. */
  async write(loaded: LoadedEntry): Promise<void> {
    const { entry } = loaded;
    switch (loaded.kind) {
      case "skipped":
        if (loaded.warn) this.#warn(entry, loaded.reason);
        else this.#run.logger.warn({ path: entry.rel }, `${entry.rel}: ${loaded.reason}`);
        return;
      case "directory":
      case "symlink": {
        const { stat } = loaded;
        const linkTarget = loaded.kind === "symlink" ? loaded.target : undefined;
        await openEntry(this.#pack, tarHeader({ path: entry.rel, type: loaded.kind, stat, linkTarget })).done;
        this.#index.add({
          path: entry.rel,
          type: loaded.kind,
          size: 0,
          mode: stat.mode & 0o7777,
          mtime: Math.round(stat.mtimeMs),
          ...(linkTarget === undefined ? {} : { linkTarget }),
        });
        return;
      }
      case "file": {
        const { stat, data } = loaded;
        await openEntry(
          this.#pack,
          tarHeader({ path: entry.rel, type: "file", stat, size: data.length }),
          data,
        ).done;
        if (loaded.change !== undefined) this.#warn(entry, loaded.change);
        this.#addFile(entry, loaded.stat, data.length, sha256Of(data));
        // The hashing thread runs behind by a few batches at most.
        await sha256Room();
        return;
      }
      case "large-file":
        return this.#writeLarge(loaded);
    }
  }

  #warn(entry: WalkEntry, reason: string): void {
    this.#run.warn(`${entry.rel}: ${reason}`, { path: entry.rel, reason });
  }

  #addFile(
    entry: WalkEntry,
    stat: { mode: number; mtimeMs: number },
    size: number,
    sha256: Promise<string>,
  ): void {
    this.#index.add(
      { path: entry.rel, type: "file", size, mode: stat.mode & 0o7777, mtime: Math.round(stat.mtimeMs) },
      sha256,
    );
    this.stats.files++;
    this.stats.bytes += size;
  }

  /**
   * Streams a large file in chunks. The header already promised `size` bytes, so a file that shrinks
   * is padded with zeros and one that grows is cut at `size`; either way it is a warning.
   */
  async #writeLarge(loaded: Extract<LoadedEntry, { kind: "large-file" }>): Promise<void> {
    const { entry, stat, fd } = loaded;
    const size = stat.size;
    const hash = new Sha256();
    const { sink, done } = openEntry(this.#pack, tarHeader({ path: entry.rel, type: "file", stat, size }));
    const write = async (chunk: Buffer) => {
      hash.update(chunk);
      if (!sink.write(chunk)) await drained(sink);
      await hash.room();
    };
    let problem: string | undefined;
    try {
      let position = 0;
      while (position < size) {
        const buffer = Buffer.allocUnsafe(Math.min(LARGE_FILE_CHUNK, size - position));
        let n: number;
        try {
          n = await this.#io.calls.read(fd, buffer, 0, buffer.length, position);
        } catch (error) {
          problem = `read failed after ${position} of ${size} bytes (${(error as Error).message}); padded with zeros`;
          break;
        }
        if (n === 0) {
          problem = `shrank while being read (${position} of ${size} bytes; padded with zeros)`;
          break;
        }
        position += n;
        await write(n === buffer.length ? buffer : buffer.subarray(0, n));
      }
      for (let missing = size - position; missing > 0; missing -= LARGE_FILE_CHUNK) {
        await write(ZEROS.subarray(0, Math.min(missing, LARGE_FILE_CHUNK)));
      }
      problem ??= await this.#changeAfterReading(loaded);
      sink.end(null);
      await done;
    } catch (error) {
      hash.discard();
      throw error;
    } finally {
      await this.#io.calls.close(fd);
    }
    if (problem !== undefined) this.#warn(entry, problem);
    this.#addFile(entry, stat, size, hash.digest());
  }

  /** After `size` bytes were read whole: did the file grow, or change in place meanwhile? */
  async #changeAfterReading(
    loaded: Extract<LoadedEntry, { kind: "large-file" }>,
  ): Promise<string | undefined> {
    const { stat, fd } = loaded;
    const probe = Buffer.allocUnsafe(1);
    if ((await this.#io.calls.read(fd, probe, 0, 1, stat.size)) > 0) {
      return `grew while being read (archived the first ${stat.size} bytes)`;
    }
    return changedSince(stat, await this.#io.calls.fstat(fd)) ? "changed while being read" : undefined;
  }
}
