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
 * files): the index can only be uploaded after the tar, so it has to wait somewhere.
 */
export class FileIndexBuilder {
  readonly #chunks: Buffer[] = [];
  #pending = "";

  add(entry: FileIndexEntry): void {
    this.#pending += `${JSON.stringify(entry)}\n`;
    if (this.#pending.length >= CHUNK_CHARS) this.#flush();
  }

  /** The JSONL stream of everything added so far; each call gives a new stream of the same bytes. */
  toStream(): Readable {
    this.#flush();
    return Readable.from([...this.#chunks], { objectMode: false });
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
  for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
    lineNumber++;
    if (line === "") continue;
    let entry: FileIndexEntry;
    try {
      entry = JSON.parse(line) as FileIndexEntry;
    } catch (error) {
      throw new HavenError("INTEGRITY", `file index line ${lineNumber} is not valid JSON`, {
        cause: error,
        hint: "the snapshot's index object is corrupt; restore without verification or use another snapshot",
      });
    }
    if (entry.type === "file" && typeof entry.sha256 === "string") files.set(entry.path, entry);
  }
  return files;
}
