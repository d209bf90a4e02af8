/**
 * Exact per-table row counts read from a `pg_dump --format=custom --compress=0` archive as it streams
 * past, so a backup does not scan every table a second time with `count(*)` (on a large database
 * that is a second full read of it, on the production server, during the backup window).
 *
 * The archive (pg_dump's pg_backup_archiver.c and pg_backup_custom.c): a header, the table of contents
 * (TOC) naming every entry by dump id, then one data block per entry with data. A TABLE DATA block is
 * the table's COPY text, one line per row, sent as length-prefixed chunks, ended by pg_dump's
 * terminator line `\.` and two empty lines. COPY escapes a newline inside a value as `\n`, so every
 * newline byte ends a line: rows = newlines - 3.
 *
 * Anything this reader does not know (another archive version or format, compressed data, a block
 * that does not end with the terminator) is reported as `problem`, never guessed: the caller counts
 * those tables in the dump's snapshot instead.
 */

/** Archive versions whose layout this reader follows: 1.12 (pg_dump 9.6) to 1.16 (pg_dump 17). */
const FIRST_KNOWN_MINOR = 12;
const LAST_KNOWN_MINOR = 16;
const CUSTOM_FORMAT = 1;
const BLOCK_DATA = 1;
const BLOCK_LARGE_OBJECTS = 3;
const NEWLINE = 0x0a;
/** `\.` `\n` `\n` `\n`: pg_dump's end of a table's COPY data. */
const COPY_END = Buffer.from("\\.\n\n\n", "latin1");
/**
 * The TOC is held until it is whole (twice over while it is joined). A schema whose TOC passes this
 * (tens of thousands of tables) is counted in SQL instead, so the backup stays within its memory.
 */
export const MAX_TOC_BYTES = 32 * 1024 * 1024;

export interface ArchiveRowCounts {
  /**
   * Rows per table, keyed by the table's oid (`pg_class.oid`, as text), for every TABLE DATA block
   * read to its end. Not by name: `schema.table` is ambiguous when a name holds a dot, and pg_dump
   * writes names in its client encoding, which need not be UTF-8.
   */
  rows: Map<string, number>;
  /** Why some or all counts could not be read from the archive; the caller counts those in SQL. */
  problem?: string;
}

class NeedMore extends Error {
  constructor(readonly at: number) {
    super("need more bytes");
  }
}

class Unreadable extends Error {}

/** Reads the archive's fixed-layout integers and strings out of one buffer, bounds-checked. */
class HeadReader {
  offset = 0;
  intSize = 4;

  constructor(private readonly buf: Buffer) {}

  byte(): number {
    if (this.offset >= this.buf.length) throw new NeedMore(this.offset + 1);
    return this.buf[this.offset++] as number;
  }

  bytes(n: number): Buffer {
    const end = this.offset + n;
    if (end > this.buf.length) throw new NeedMore(end);
    const out = this.buf.subarray(this.offset, end);
    this.offset = end;
    return out;
  }

  /** A sign byte, then `intSize` bytes, least significant first. */
  int(): number {
    const negative = this.byte() !== 0;
    const raw = this.bytes(this.intSize);
    let value = 0;
    for (let i = raw.length - 1; i >= 0; i--) value = value * 256 + (raw[i] as number);
    return negative ? -value : value;
  }

  /** A length (-1 for NULL), then that many bytes. */
  str(): string | null {
    const length = this.int();
    if (length < 0) return null;
    return this.bytes(length).toString("utf8");
  }

  skipStr(): boolean {
    const length = this.int();
    if (length < 0) return false;
    this.bytes(length);
    return true;
  }
}

interface Head {
  /** Bytes the header and TOC took: the data blocks start here. */
  length: number;
  intSize: number;
  /** dump id → the table's oid, for TABLE DATA entries. */
  tableData: Map<number, string>;
}

function readHead(buf: Buffer): Head {
  const r = new HeadReader(buf);
  if (r.bytes(5).toString("latin1") !== "PGDMP") throw new Unreadable("not a pg_dump archive");
  const major = r.byte();
  const minor = r.byte();
  r.byte(); // revision
  if (major !== 1 || minor < FIRST_KNOWN_MINOR || minor > LAST_KNOWN_MINOR) {
    throw new Unreadable(`archive version ${major}.${minor} is not one this reader knows`);
  }
  r.intSize = r.byte();
  if (r.intSize < 1 || r.intSize > 6) throw new Unreadable(`integer size ${r.intSize} in the archive header`);
  const offsetSize = r.byte();
  if (r.byte() !== CUSTOM_FORMAT) throw new Unreadable("not a custom-format archive");
  const compressed = minor >= 15 ? r.byte() !== 0 : r.int() !== 0;
  if (compressed) throw new Unreadable("the archive's data is compressed");
  for (let i = 0; i < 7; i++) r.int(); // creation time
  r.skipStr(); // database name
  r.skipStr(); // server version
  r.skipStr(); // pg_dump version

  const tableData = new Map<number, string>();
  const entries = r.int();
  for (let i = 0; i < entries; i++) {
    const dumpId = r.int();
    r.int(); // has data
    r.skipStr(); // catalog table oid
    const oid = r.str(); // for TABLE DATA, the table's own oid
    r.skipStr(); // tag: the table's name
    const desc = r.str();
    r.int(); // section
    r.skipStr(); // definition
    r.skipStr(); // drop statement
    r.skipStr(); // copy statement
    r.skipStr(); // namespace
    r.skipStr(); // tablespace
    if (minor >= 14) r.skipStr(); // table access method
    if (minor >= 16) r.int(); // relkind
    r.skipStr(); // owner
    r.skipStr(); // "with oids", always false now
    while (r.skipStr()); // dependencies, ended by a NULL
    r.byte(); // data offset: its state flag...
    r.bytes(offsetSize); // ...and the offset, unset when written to a pipe
    if (desc === "TABLE DATA" && oid !== null) tableData.set(dumpId, oid);
  }
  return { length: r.offset, intSize: r.intSize, tableData };
}

const enum Step {
  BlockType,
  BlockId,
  ChunkLength,
  ChunkBytes,
  LargeObjectId,
}

/** Feed it every byte of the archive, in order, with `push`; `result` when the stream ended. */
export class ArchiveRowCounter {
  #head: Buffer[] = [];
  #headBytes = 0;
  #nextHeadAttempt = 0;
  #layout: Head | undefined;
  #problem: string | undefined;
  readonly #rows = new Map<string, number>();

  #step = Step.BlockType;
  /** Bytes of the integer being read when it straddles two chunks. */
  #intBytes: number[] = [];
  #blockType = 0;
  /** The table whose data the current block holds; undefined in a block not counted (large objects). */
  #blockOid: string | undefined;
  #newlines = 0;
  #chunkLeft = 0;
  /** The last bytes of the current block's data, to find the COPY terminator. */
  readonly #tail = Buffer.alloc(COPY_END.length);
  #tailLength = 0;

  push(chunk: Buffer): void {
    if (this.#problem !== undefined) return;
    this.#guard(() => {
      if (this.#layout) {
        this.#scan(chunk, 0);
        return;
      }
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      // Past the cap, one last attempt: the TOC may be whole already; if not, it is given up.
      if (this.#headBytes >= this.#nextHeadAttempt || this.#headBytes > MAX_TOC_BYTES) this.#readHead();
    });
  }

  /** The counts read; call once the archive has ended. */
  result(): ArchiveRowCounts {
    // The stream may have ended before the buffer doubled again: the last bytes are read now.
    if (this.#problem === undefined && !this.#layout && this.#headBytes > 0)
      this.#guard(() => this.#readHead());
    let problem = this.#problem;
    if (problem === undefined && !this.#layout) problem = "the archive ended inside its table of contents";
    else if (problem === undefined && (this.#step !== Step.BlockType || this.#intBytes.length > 0)) {
      problem = "the archive ended inside a data block";
    }
    return { rows: this.#rows, problem };
  }

  #guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#problem =
        error instanceof Unreadable ? error.message : `unexpected archive layout: ${String(error)}`;
      this.#head = [];
    }
  }

  #readHead(): void {
    const buffered = Buffer.concat(this.#head);
    try {
      this.#layout = readHead(buffered);
    } catch (error) {
      if (!(error instanceof NeedMore)) throw error;
      if (this.#headBytes > MAX_TOC_BYTES)
        throw new Unreadable(`the table of contents is larger than ${MAX_TOC_BYTES >> 20} MiB`);
      // Parse again only once the buffer has doubled: a large TOC is not re-read per chunk.
      this.#head = [buffered];
      this.#nextHeadAttempt = Math.max(error.at, this.#headBytes * 2);
      return;
    }
    this.#head = [];
    this.#scan(buffered, this.#layout.length);
  }

  #scan(buf: Buffer, from: number): void {
    const layout = this.#layout as Head;
    const width = layout.intSize + 1;
    let i = from;
    while (i < buf.length) {
      if (this.#step === Step.ChunkLength && this.#blockType === BLOCK_DATA && this.#intBytes.length === 0) {
        i = this.#wholeChunks(buf, i, width);
        if (i >= buf.length) return;
      }
      if (this.#step === Step.ChunkBytes) {
        const end = Math.min(buf.length, i + this.#chunkLeft);
        if (this.#blockOid !== undefined) this.#countLines(buf, i, end);
        this.#chunkLeft -= end - i;
        i = end;
        if (this.#chunkLeft === 0) this.#step = Step.ChunkLength;
        continue;
      }
      if (this.#step === Step.BlockType) {
        this.#blockType = buf[i++] as number;
        if (this.#blockType !== BLOCK_DATA && this.#blockType !== BLOCK_LARGE_OBJECTS) {
          throw new Unreadable(`unknown data block type ${this.#blockType}`);
        }
        this.#step = Step.BlockId;
        continue;
      }
      // Every other step reads one integer: a sign byte and intSize bytes.
      let value: number;
      if (this.#intBytes.length === 0 && i + width <= buf.length) {
        value = intAt(buf, i, width);
        i += width;
      } else {
        while (this.#intBytes.length < width && i < buf.length) this.#intBytes.push(buf[i++] as number);
        if (this.#intBytes.length < width) return;
        value = intAt(Buffer.from(this.#intBytes), 0, width);
        this.#intBytes = [];
      }
      this.#onInt(value, layout);
    }
  }

  #onInt(value: number, layout: Head): void {
    switch (this.#step) {
      case Step.BlockId:
        if (this.#blockType === BLOCK_DATA) {
          this.#blockOid = layout.tableData.get(value);
          this.#newlines = 0;
          this.#tailLength = 0;
          this.#step = Step.ChunkLength;
        } else {
          this.#blockOid = undefined;
          this.#step = Step.LargeObjectId;
        }
        return;
      case Step.LargeObjectId:
        // Large objects follow one another, each as chunks; an oid of 0 ends the block.
        this.#step = value === 0 ? Step.BlockType : Step.ChunkLength;
        return;
      case Step.ChunkLength:
        if (value < 0) throw new Unreadable(`negative chunk length ${value}`);
        if (value > 0) {
          this.#chunkLeft = value;
          this.#step = Step.ChunkBytes;
          return;
        }
        if (this.#blockType === BLOCK_LARGE_OBJECTS) {
          this.#step = Step.LargeObjectId;
          return;
        }
        this.#endTableBlock();
        this.#step = Step.BlockType;
        return;
      default:
        throw new Unreadable("the reader lost its place");
    }
  }

  /**
   * The hot path: every (length, bytes) chunk of table data that lies whole in `buf`, with the state
   * in locals. Stops before a chunk that straddles the end of `buf`, or at the block's end marker,
   * for the general path to take.
   */
  #wholeChunks(buf: Buffer, start: number, width: number): number {
    const counting = this.#blockOid !== undefined;
    const n = buf.length;
    let newlines = this.#newlines;
    let i = start;
    let lastFrom = -1;
    let lastTo = -1;
    while (i + width <= n && buf[i] === 0) {
      const length = intAt(buf, i, width);
      const from = i + width;
      const to = from + length;
      if (length === 0 || to > n) break;
      if (counting) {
        newlines += newlinesIn(buf, from, to);
        if (length >= COPY_END.length) {
          lastFrom = from;
          lastTo = to;
        } else {
          // A piece shorter than the terminator: the tail needs the bytes before it too, in order.
          if (lastTo >= 0) this.#noteTail(buf, lastFrom, lastTo);
          this.#noteTail(buf, from, to);
          lastTo = -1;
        }
      }
      i = to;
    }
    this.#newlines = newlines;
    if (lastTo >= 0) this.#noteTail(buf, lastFrom, lastTo);
    return i;
  }

  #endTableBlock(): void {
    const oid = this.#blockOid;
    if (oid === undefined) return;
    const terminated = this.#tailLength === COPY_END.length && this.#tail.equals(COPY_END);
    if (!terminated)
      throw new Unreadable(`the data of the table with oid ${oid} does not end as COPY data does`);
    this.#rows.set(oid, this.#newlines - 3);
  }

  #countLines(buf: Buffer, from: number, to: number): void {
    this.#newlines += newlinesIn(buf, from, to);
    this.#noteTail(buf, from, to);
  }

  /** Keeps the last bytes of the block's data seen so far, `buf[from, to)` being the newest. */
  #noteTail(buf: Buffer, from: number, to: number): void {
    const keep = COPY_END.length;
    const length = to - from;
    if (length >= keep) {
      buf.copy(this.#tail, 0, to - keep, to);
      this.#tailLength = keep;
      return;
    }
    // A short piece: shift the tail left and append it.
    const kept = Math.min(this.#tailLength, keep - length);
    this.#tail.copyWithin(0, this.#tailLength - kept, this.#tailLength);
    buf.copy(this.#tail, kept, from, to);
    this.#tailLength = kept + length;
  }
}

/** Newline bytes in `buf[from, to)`. */
function newlinesIn(buf: Buffer, from: number, to: number): number {
  // indexOf runs in native code; pg_dump sends one row per chunk, so this is usually one call.
  let count = 0;
  let at = buf.indexOf(NEWLINE, from);
  while (at !== -1 && at < to) {
    count++;
    if (at === to - 1) break;
    at = buf.indexOf(NEWLINE, at + 1);
  }
  return count;
}

/** A sign byte then little-endian magnitude, as pg_dump's WriteInt writes it. */
function intAt(buf: Buffer, at: number, width: number): number {
  let value = 0;
  for (let k = at + width - 1; k > at; k--) value = value * 256 + (buf[k] as number);
  return buf[at] === 0 ? value : -value;
}
