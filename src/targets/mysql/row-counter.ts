/**
 * Counts rows per table in a mariadb-dump / mysqldump SQL stream as it passes through, so the row
 * counts in the manifest are exactly the rows in the dump (MySQL cannot share a snapshot between the
 * dump and a second connection, the way PostgreSQL can).
 *
 * The dump is regular: a `-- Dumping data for table `t`` comment opens a table's data section; its rows
 * come as `INSERT INTO `t` VALUES (...),(...);` statements (MariaDB puts each row on its own line),
 * or `INSERT INTO `t` (`a`, `b`) VALUES ...` with a column list, which the tools write for a table
 * with invisible (MariaDB, MySQL 8.0.23+) or generated (MySQL) columns;
 * `UNLOCK TABLES`, `DELIMITER` or the next `-- ` comment closes it. Inside VALUES, every `(` at depth 0
 * outside a string literal starts a row. String literals use backslash escapes; with --hex-blob,
 * binary data is hex, so no byte of it can be mistaken for syntax. Statements outside data sections
 * (routine and trigger bodies) are never counted, even when they contain INSERT statements.
 */
import { Transform, type TransformCallback } from "node:stream";
import { quoteIdentifier } from "./connection";

enum State {
  LineStart,
  SkipLine,
  /** Inside an INSERT's column list: backquoted names, which may hold parentheses. */
  Columns,
  Values,
}

const NEWLINE = 0x0a;
const QUOTE = 0x27;
const BACKSLASH = 0x5c;
const OPEN = 0x28;
const CLOSE = 0x29;
const SEMICOLON = 0x3b;
const BACKQUOTE = 0x60;
/** Longer line heads cannot be one of the lines we look for. */
const MAX_HEAD = 1024;

const DATA_COMMENT = "-- Dumping data for table ";
const VALUES = Buffer.from("VALUES");

export class DumpRowCounter extends Transform {
  /** Rows per `database.table`, complete once the stream has ended. */
  readonly counts: Record<string, number> = {};
  private state = State.LineStart;
  private head: number[] = [];
  private table: string | undefined;
  /** `INSERT INTO `t` `: what follows is `VALUES` or a column list. */
  private insertPrefix: Buffer | undefined;
  private inString = false;
  private inName = false;
  private escaped = false;
  private depth = 0;

  constructor(private readonly database: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.scan(chunk);
    callback(null, chunk);
  }

  private scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === State.SkipLine) {
        const newline = chunk.indexOf(NEWLINE, i);
        if (newline < 0) return;
        i = newline + 1;
        this.state = State.LineStart;
      } else if (this.state === State.LineStart) {
        i = this.readHead(chunk, i);
      } else if (this.state === State.Columns) {
        i = this.readColumns(chunk, i);
      } else {
        i = this.readValues(chunk, i);
      }
    }
  }

  /** Collects the start of a line until it is known what the line is. */
  private readHead(chunk: Buffer, start: number): number {
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (byte === NEWLINE) {
        this.endOfLine();
        this.head = [];
        return i + 1;
      }
      this.head.push(byte);
      const next = this.statementStart();
      if (next !== undefined) {
        this.head = [];
        this.state = next;
        this.inString = false;
        this.inName = false;
        this.escaped = false;
        this.depth = 0;
        return i + 1;
      }
      if (this.head.length >= MAX_HEAD) {
        this.head = [];
        this.state = State.SkipLine;
        return i + 1;
      }
    }
    return chunk.length;
  }

  /** A whole line that was not an INSERT of the current table: it may open or close a data section. */
  private endOfLine(): void {
    const line = Buffer.from(this.head).toString("utf8");
    if (line.startsWith(DATA_COMMENT)) {
      const name = parseQuotedName(line.slice(DATA_COMMENT.length).trim());
      if (name !== undefined) {
        this.table = `${this.database}.${name}`;
        this.counts[this.table] = 0;
        this.insertPrefix = Buffer.from(`INSERT INTO ${quoteIdentifier(name)} `);
        return;
      }
    }
    // The bare "--" lines around a comment's text close nothing.
    if (line.startsWith("-- ") || line.startsWith("UNLOCK TABLES") || line.startsWith("DELIMITER")) {
      this.table = undefined;
      this.insertPrefix = undefined;
    }
  }

  /** Values or Columns once the line so far opens an INSERT of the current table, else undefined. */
  private statementStart(): State | undefined {
    const prefix = this.insertPrefix;
    if (!prefix) return undefined;
    // Compared at two lengths only: every other byte of a line costs nothing.
    const rest = this.head.length - prefix.length;
    if (rest === 1 && this.head[prefix.length] === OPEN && this.headStartsWith(prefix)) return State.Columns;
    if (rest === VALUES.length && this.headStartsWith(VALUES, prefix.length) && this.headStartsWith(prefix))
      return State.Values;
    return undefined;
  }

  private headStartsWith(bytes: Buffer, at = 0): boolean {
    for (let k = 0; k < bytes.length; k++) if (this.head[at + k] !== bytes[k]) return false;
    return true;
  }

  /** Skips a column list up to its closing parenthesis; ` VALUES` and the rows follow. */
  private readColumns(chunk: Buffer, start: number): number {
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      // A backquote doubled inside a name closes and reopens it: the state comes out right.
      if (byte === BACKQUOTE) this.inName = !this.inName;
      else if (byte === CLOSE && !this.inName) {
        this.state = State.Values;
        return i + 1;
      }
    }
    return chunk.length;
  }

  /**
   * Counts row tuples until the statement's closing `;`. Most of a dump's bytes are inside string
   * literals, so a literal's end is found with `indexOf` (native) rather than byte by byte: a quote
   * ends it unless an odd run of backslashes stands right before it. The state lives in locals here
   * and is stored once per call: this loop runs over every byte of the dump outside literals.
   */
  private readValues(chunk: Buffer, start: number): number {
    const end = chunk.length;
    let inString = this.inString;
    let escaped = this.escaped;
    let depth = this.depth;
    let rows = 0;
    let i = start;
    let closed = false;
    while (i < end) {
      if (inString) {
        if (escaped) {
          escaped = false;
          i++;
          continue;
        }
        const quote = closingQuote(chunk, i);
        if (quote < 0) {
          // The literal goes on in the next chunk: carry a backslash still waiting for its byte.
          escaped = backslashesBefore(chunk, end, i) % 2 === 1;
          i = end;
          break;
        }
        inString = false;
        i = quote + 1;
        continue;
      }
      const byte = chunk[i] as number;
      if (byte === QUOTE) inString = true;
      else if (byte === OPEN) {
        if (depth === 0) rows++;
        depth++;
      } else if (byte === CLOSE) depth--;
      else if (byte === SEMICOLON && depth === 0) {
        closed = true;
        i++;
        break;
      }
      i++;
    }
    this.inString = inString;
    this.escaped = escaped;
    this.depth = depth;
    if (closed) this.state = State.SkipLine;
    if (this.table) this.counts[this.table] = (this.counts[this.table] ?? 0) + rows;
    return i;
  }
}

/** The first quote at or after `from` that ends a literal (not escaped by a backslash), or -1. */
function closingQuote(chunk: Buffer, from: number): number {
  let at = chunk.indexOf(QUOTE, from);
  while (at >= 0 && backslashesBefore(chunk, at, from) % 2 === 1) at = chunk.indexOf(QUOTE, at + 1);
  return at;
}

/** How many backslashes stand right before `at`, looking no further back than `floor`. */
function backslashesBefore(chunk: Buffer, at: number, floor: number): number {
  let k = at;
  while (k > floor && chunk[k - 1] === BACKSLASH) k--;
  return at - k;
}

/** `name` from "`na``me`" (backticks doubled inside), or undefined when it is not quoted that way. */
function parseQuotedName(text: string): string | undefined {
  if (text.length < 2 || !text.startsWith("`") || !text.endsWith("`")) return undefined;
  return text.slice(1, -1).replace(/``/g, "`");
}
