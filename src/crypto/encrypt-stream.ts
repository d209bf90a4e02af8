import { randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { HavenError } from "../lib/errors";
import { ByteQueue } from "./byte-queue";
import { encodeHeader } from "./header";
import type { AgeRecipient } from "./keys";
import { CHUNK_SIZE, PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE, payloadKey, sealChunk } from "./payload";
import { BATCH_BYTES, SealThread } from "./seal-thread";
import { FILE_KEY_SIZE } from "./primitives";
import { wrapFileKey } from "./x25519-stanza";

/**
 * Encrypts a byte stream to one or more age X25519 recipients; the output is a binary age v1 file
 * that `age -d -i KEYFILE` decrypts. Any one recipient's identity is enough to decrypt.
 *
 * A payload of up to one batch (1 MiB) is sealed here; a larger one on a sealing thread
 * (seal-thread.ts), in batches of 16 chunks sent as soon as a byte after them has arrived (until then
 * the last might be the final chunk, whose nonce differs). Memory: a few batches (seal-thread.ts).
 *
 * @throws HavenError CONFIG at creation when `recipients` is empty.
 */
export function createEncryptStream(recipients: readonly AgeRecipient[]): Transform {
  if (recipients.length === 0) {
    throw new HavenError("CONFIG", "encryption needs at least one age recipient", {
      hint: "List the public keys (age1...) in encryption.recipients.",
    });
  }
  return new AgeEncryptStream(recipients);
}

/** How soon a write held back for a slow reader looks again (see #whenRoom). */
const RECHECK_MS = 5;

class AgeEncryptStream extends Transform {
  readonly #pending = new ByteQueue();
  readonly #key: Buffer;
  /** Started once the payload passes one batch; smaller payloads are sealed here, inline. */
  #thread: SealThread | undefined;
  #counter = 0;
  /** A write waiting for the reader (see #whenRoom). */
  #onRead: (() => void) | undefined;
  #recheck: NodeJS.Timeout | undefined;

  constructor(recipients: readonly AgeRecipient[]) {
    super({ writableHighWaterMark: CHUNK_SIZE, readableHighWaterMark: 2 * SEALED_CHUNK_SIZE });
    const fileKey = randomBytes(FILE_KEY_SIZE);
    const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
    try {
      const header = encodeHeader(
        recipients.map((recipient) => wrapFileKey(fileKey, recipient)),
        fileKey,
      );
      this.#key = payloadKey(fileKey, nonce);
      this.push(Buffer.concat([header, nonce]));
    } finally {
      fileKey.fill(0);
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#pending.push(chunk);
      // A batch goes only once a byte after it has arrived: until then its last chunk might be final.
      while (this.#pending.length > BATCH_BYTES) {
        this.#sealThread().seal(this.#pending.take(BATCH_BYTES), BATCH_BYTES, false);
      }
      this.#whenRoom(callback);
    } catch (error) {
      callback(error as Error);
    }
  }

  /**
   * Takes more input only when the thread has room and what it sealed has been read: its batches are
   * pushed as they come back, so the readable side's own backpressure cannot hold the writer back.
   */
  #whenRoom(callback: TransformCallback): void {
    // Torn down (a failed upload, a cancelled backup): nothing will read again, so stop re-checking.
    if (this.destroyed) return;
    const room = this.#thread?.room() ?? null;
    if (room !== null) room.then(() => this.#whenRoom(callback), callback);
    else if (this.#thread !== undefined && this.readableLength >= this.readableHighWaterMark) {
      // Woken by the next _read, or re-checked shortly: a read may not call _read while one is pending.
      let resumed = false;
      const resume = (): void => {
        if (resumed) return;
        resumed = true;
        clearTimeout(timer);
        this.#whenRoom(callback);
      };
      const timer = setTimeout(resume, RECHECK_MS);
      this.#recheck = timer;
      this.#onRead = resume;
    } else callback();
  }

  override _read(size: number): void {
    const resume = this.#onRead;
    this.#onRead = undefined;
    resume?.();
    super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    try {
      const thread = this.#thread;
      const rest = this.#pending.length;
      if (thread === undefined) {
        // What is left (up to one batch, or nothing for an empty input): the last chunk is final.
        while (this.#pending.length > CHUNK_SIZE) this.#sealInline(CHUNK_SIZE, false);
        this.#sealInline(this.#pending.length, true);
        return callback();
      }
      thread.seal(this.#pending.take(rest), rest, true);
      thread.drain().then(() => {
        thread.close();
        callback();
      }, callback);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#recheck);
    this.#onRead = undefined;
    this.#thread?.close();
    this.#key.fill(0);
    callback(error);
  }

  #sealThread(): SealThread {
    this.#thread ??= new SealThread(this.#key, {
      onSealed: (ciphertext) => this.push(ciphertext),
      onFailed: (error) => this.destroy(error),
    });
    return this.#thread;
  }

  #sealInline(size: number, last: boolean): void {
    for (const piece of sealChunk(this.#key, this.#counter, last, this.#pending.take(size))) this.push(piece);
    this.#counter += 1;
  }
}
