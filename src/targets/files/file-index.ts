/**
 * The file index stored beside a files snapshot ("index" payload, JSON Lines): one line per archived
 * entry, in archive order, with each regular file's sha256. It lets `haven` list and verify a snapshot
 * without reading the tar, and lets a restore check every file it writes.
 */
import { Readable } from "node:stream";
import { createInterface } from "node:readline";
import { HavenError } from "../../lib/errors";
import type { ArchivedType } from "./tar-header";

export interface FileIndexEntry {
  /** Path relative to the archive root, "/"-separated, no trailing "/". */
  path: string;
  type: ArchivedType;
  /** Content bytes in the archive (0 for directories and symlinks). */
  size: number;
  /** Permission bits (including setuid, setgid, sticky). */
  mode: number;
  /** Modification time, milliseconds since the epoch. */
  mtime: number;
  /** Hex sha256 of the content as archived (files only). */
  sha256?: string;
  /** Symlinks only: the link's target, stored as is. */
  linkTarget?: string;
}

/** Lines are gathered into chunks of about this size so a big index is not millions of small strings. */
const CHUNK_CHARS = 256 * 1024;

/**
 * Collects index lines while archiving. Memory is about 150 bytes per entry (150 MB for a million
 * files): the index can only be uploaded after the tar, so it has to wait somewhere. A file's sha256
 * may still be on its way from the hashing thread: entries wait, in order, until theirs arrives
 * (a few milliseconds), and `toStream` waits for the last ones.
 */
export class FileIndexBuilder {
  readonly #chunks: Buffer[] = [];
  #pending = "";
  /** Entries (in archive order) not yet serialized because an earlier or their own digest is pending. */
  #waiting: Array<{ entry: FileIndexEntry; digest?: Promise<string> }> = [];

  /** Adds an entry; with `digest`, its sha256 is filled in when the promise resolves. */
  add(entry: FileIndexEntry, digest?: Promise<string>): void {
    if (digest === undefined && this.#waiting.length === 0) return this.#append(entry);
    const slot = { entry, digest };
    this.#waiting.push(slot);
    digest?.then(
      (sha256) => {
        slot.entry.sha256 = sha256;
        slot.digest = undefined;
        this.#drain();
      },
      // A failed digest stays in its slot: toStream rejects with it.
      () => undefined,
    );
  }

  /** The JSONL stream of everything added so far; each call gives a new stream of the same bytes. */
  async toStream(): Promise<Readable> {
    await Promise.all(this.#waiting.flatMap((slot) => (slot.digest === undefined ? [] : [slot.digest])));
    this.#drain();
    this.#flush();
    return Readable.from([...this.#chunks], { objectMode: false });
  }

  #drain(): void {
    let done = 0;
    while (done < this.#waiting.length && this.#waiting[done]?.digest === undefined) {
      this.#append((this.#waiting[done] as { entry: FileIndexEntry }).entry);
      done++;
    }
    if (done > 0) this.#waiting = this.#waiting.slice(done);
  }

  #append(entry: FileIndexEntry): void {
    this.#pending += `${JSON.stringify(entry)}\n`;
    if (this.#pending.length >= CHUNK_CHARS) this.#flush();
  }

  #flush(): void {
    if (this.#pending === "") return;
    this.#chunks.push(Buffer.from(this.#pending, "utf8"));
    this.#pending = "";
  }
}

/** Reads an index stream into a map of regular files by path (the entries a restore can verify). */
export async function readFileIndex(body: Readable): Promise<Map<string, FileIndexEntry>> {
  const files = new Map<string, FileIndexEntry>();
  let lineNumber = 0;
  try {
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
      lineNumber++;
      if (line === "") continue;
      let entry: FileIndexEntry;
      try {
        entry = JSON.parse(line) as FileIndexEntry;
      } catch (error) {
        throw new HavenError("INTEGRITY", `file index line ${lineNumber} is not valid JSON`, {
          cause: error,
          hint:
            "the snapshot's index object is corrupt: a restore of it into an empty directory (--to) goes on without the " +
            "index, its data still proven by its own sha256; or restore another snapshot with --snapshot ID (haven snapshots TARGET " +
            'lists them); the standard-tools recipe in its manifest.json ("restore") needs no index either',
        });
      }
      if (entry.type === "file" && typeof entry.sha256 === "string") files.set(entry.path, entry);
    }
  } finally {
    body.destroy(); // readline leaves its input open when the loop ends early
  }
  return files;
}
