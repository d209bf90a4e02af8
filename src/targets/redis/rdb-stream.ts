/**
 * Makes redis-cli's `--rdb -` output an exact RDB file, and checks its frame.
 *
 * With diskless replication (the default since Redis 7) the server ends the transfer with a 40-byte
 * EOF marker; redis-cli writes it to its output and then truncates the file, which does nothing on a
 * pipe, so the stream ends with 40 stray bytes. redis-cli reports the real length on stderr
 * ("Transfer finished with success after N bytes"). This transform holds back the last bytes of the
 * stream until that length is known and passes exactly N. It also checks the frame: an RDB starts with
 * "REDIS" and ends with the EOF opcode (0xFF) and an 8-byte checksum.
 *
 * A stream that should already be an exact RDB file (a restore, a scratch server) is also checked
 * against that checksum, CRC-64/REDIS of every byte before it: the frame alone lets a cut file through
 * whenever the byte 9 from its new end happens to be 0xFF. The backup side does not compute it: its
 * length comes from redis-cli and the crc (js-crc, ~80 MB/s) would slow every backup down.
 */
import type { Model as CrcModel } from "js-crc";
import { Transform, type TransformCallback } from "node:stream";
import { HavenError } from "../../lib/errors";

const EOF_MARKER_BYTES = 40;
/** Held back: the marker plus the EOF opcode and checksum, so the end can be checked. */
const HOLD_BACK = EOF_MARKER_BYTES + 9;
const MAGIC = Buffer.from("REDIS");
const EOF_OPCODE = 0xff;
const CHECKSUM_BYTES = 8;

/** The RDB length redis-cli reports; "marker" when it only says the transfer used an EOF marker. */
export function rdbLengthFromStderr(stderr: string): number | "marker" | undefined {
  const match = /Transfer finished with success after (\d+) bytes/.exec(stderr);
  if (match) return Number(match[1]);
  return /until EOF marker/.test(stderr) ? "marker" : undefined;
}

export class RdbStream extends Transform {
  private held = Buffer.alloc(0);
  private passed = 0;
  private head = Buffer.alloc(0);
  private readonly crc: ReturnType<CrcModel["create"]> | undefined;

  /** Checks the frame and the checksum of a stream that is already an exact RDB file. */
  static async exact(): Promise<RdbStream> {
    // Loaded on demand: its table of CRC models costs every other command ~30 ms of start-up.
    const { crc_64_redis } = await import("js-crc/models");
    return new RdbStream(() => Promise.resolve(undefined), crc_64_redis);
  }

  /**
   * `length` resolves, once the producer has exited, to what `rdbLengthFromStderr` found; with
   * `checksum`, the stream is also checked against the RDB's stored CRC-64.
   */
  constructor(
    private readonly length: () => Promise<number | "marker" | undefined>,
    checksum?: CrcModel,
  ) {
    super();
    this.crc = checksum?.create();
  }

  /** Bytes of RDB passed on. */
  get bytes(): number {
    return this.passed;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.head.length < MAGIC.length) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, MAGIC.length - this.head.length)]);
      if (!MAGIC.subarray(0, this.head.length).equals(this.head)) {
        callback(this.invalid(`it starts with ${JSON.stringify(this.head.toString("latin1"))}`));
        return;
      }
    }
    const all = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    const release = all.length - HOLD_BACK;
    if (release > 0) {
      this.held = Buffer.from(all.subarray(release));
      this.passed += release;
      this.crc?.update(all.subarray(0, release));
      callback(null, all.subarray(0, release));
      return;
    }
    this.held = Buffer.from(all);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.length().then(
      (length) => {
        const total = this.passed + this.held.length;
        const rdbLength = length === "marker" ? total - EOF_MARKER_BYTES : (length ?? total);
        const keep = rdbLength - this.passed;
        if (keep < 9 || keep > this.held.length) {
          const why =
            length === undefined
              ? `it is only ${total} bytes long`
              : `redis-cli reported ${rdbLength} bytes of RDB in a stream of ${total}`;
          callback(this.invalid(why));
          return;
        }
        if (this.head.length < MAGIC.length) {
          callback(this.invalid("it is shorter than its header"));
          return;
        }
        if (this.held[keep - 9] !== EOF_OPCODE) {
          callback(this.invalid("it does not end with the EOF opcode and checksum (truncated?)"));
          return;
        }
        const mismatch = this.checksumMismatch(keep);
        if (mismatch) {
          callback(this.invalid(mismatch));
          return;
        }
        this.passed += keep;
        callback(null, this.held.subarray(0, keep));
      },
      (error: unknown) => callback(error as Error),
    );
  }

  /** Why the checksum does not hold, or undefined when it does (or the dump was written without one). */
  private checksumMismatch(keep: number): string | undefined {
    if (!this.crc) return undefined;
    const stored = this.held.subarray(keep - CHECKSUM_BYTES, keep);
    // A server with `rdbchecksum no` writes zeros: nothing to check against.
    if (stored.every((byte) => byte === 0)) return undefined;
    this.crc.update(this.held.subarray(0, keep - CHECKSUM_BYTES));
    // js-crc gives the value big-endian; Redis stores it little-endian.
    const computed = Buffer.from(this.crc.array()).reverse();
    if (computed.equals(stored)) return undefined;
    return `its checksum does not match its contents (stored ${stored.toString("hex")}, computed ${computed.toString("hex")}): truncated or damaged`;
  }

  private invalid(why: string): HavenError {
    return this.crc
      ? new HavenError("SOURCE_FAILED", `the RDB snapshot is not valid: ${why}`, {
          hint: "the stored snapshot is damaged: restore an earlier one (haven snapshots TARGET)",
        })
      : new HavenError("SOURCE_FAILED", `the RDB snapshot from redis-cli is not valid: ${why}`, {
          hint: "check the redis-cli and server versions (haven doctor); retry the backup",
        });
  }
}
