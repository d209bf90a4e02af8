import { Transform, type TransformCallback } from "node:stream";
import { HavenError } from "./errors";
import { Sha256 } from "./hash-thread";

const DAMAGED_OBJECT_HINT =
  "restore an older snapshot (haven snapshots TARGET) or a copy from another destination, and run `haven verify` on the rest";

/**
 * Passes bytes through unchanged while counting them and computing their sha256 (on the hashing
 * thread; a chunk is passed on at once, and only held back while that thread is behind).
 */
export class HashingStream extends Transform {
  readonly #hash = new Sha256();
  #bytes = 0;
  #digest: string | undefined;
  readonly #onBytes: ((total: number) => void) | undefined;

  constructor(onBytes?: (total: number) => void) {
    super({ highWaterMark: 1 << 20 });
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#hash.update(chunk);
    } catch (error) {
      // The hashing thread died: fail this stream, not the process.
      return callback(error as Error);
    }
    this.#bytes += chunk.length;
    this.#onBytes?.(this.#bytes);
    const room = this.#hash.room();
    if (room === null) callback(null, chunk);
    else room.then(() => callback(null, chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#hash.digest().then((hex) => {
      this.#digest = hex;
      callback();
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#hash.discard();
    callback(error);
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The sha256 (hex); only once the stream has ended. */
  get sha256(): string {
    if (this.#digest === undefined) throw new Error("HashingStream: sha256 read before the stream ended");
    return this.#digest;
  }
}

/**
 * Like HashingStream, but fails the stream at its end when size or sha256 differ from what was
 * recorded, so a consumer never sees a clean end for corrupt data.
 */
export class VerifyingStream extends HashingStream {
  readonly #expected: { size: number; sha256: string; what: string };

  constructor(expected: { size: number; sha256: string; what: string }, onBytes?: (total: number) => void) {
    super(onBytes);
    this.#expected = expected;
  }

  override _flush(callback: TransformCallback): void {
    super._flush((error) => {
      if (error) return callback(error);
      const { size, sha256, what } = this.#expected;
      if (this.bytes !== size || this.sha256 !== sha256) {
        return callback(
          new HavenError(
            "INTEGRITY",
            `${what} is corrupt: expected ${size} bytes with sha256 ${sha256}, read ${this.bytes} bytes with sha256 ${this.sha256}`,
            {
              hint: DAMAGED_OBJECT_HINT,
            },
          ),
        );
      }
      callback();
    });
  }
}

/**
 * Counts bytes and fails the stream at its end when the count differs from what was recorded; no
 * hash. For a stored object whose plain bytes are checked by sha256 after it (see read-payload.ts).
 */
export class SizeCheckingStream extends Transform {
  readonly #expected: { size: number; what: string };
  readonly #onBytes: ((total: number) => void) | undefined;
  #bytes = 0;

  constructor(expected: { size: number; what: string }, onBytes?: (total: number) => void) {
    super({ highWaterMark: 1 << 20 });
    this.#expected = expected;
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    this.#onBytes?.(this.#bytes);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { size, what } = this.#expected;
    if (this.#bytes === size) return callback();
    const damage = this.#bytes < size ? "is truncated" : "has bytes added";
    callback(
      new HavenError("INTEGRITY", `${what} ${damage}: expected ${size} bytes, read ${this.#bytes}`, {
        hint: DAMAGED_OBJECT_HINT,
      }),
    );
  }
}
