import { randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { HavenError } from "../lib/errors";
import { ByteQueue } from "./byte-queue";
import { encodeHeader } from "./header";
import type { AgeRecipient } from "./keys";
import { CHUNK_SIZE, PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE, payloadKey, sealChunk } from "./payload";
import { FILE_KEY_SIZE } from "./primitives";
import { wrapFileKey } from "./x25519-stanza";

/**
 * Encrypts a byte stream to one or more age X25519 recipients; the output is a binary age v1 file
 * that `age -d -i KEYFILE` decrypts. Any one recipient's identity is enough to decrypt.
 *
 * Memory stays below one 64 KiB chunk plus the incoming buffer: a chunk is sealed as soon as a byte
 * after it has arrived (until then it might be the final chunk, whose nonce differs), and the input
 * buffers are handed to the cipher as they are, never joined.
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

class AgeEncryptStream extends Transform {
  readonly #pending = new ByteQueue();
  readonly #key: Buffer;
  #counter = 0;

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
      while (this.#pending.length > CHUNK_SIZE) this.#seal(CHUNK_SIZE, false);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      // What is left (1..64 KiB, or nothing for an empty input) is the final chunk.
      this.#seal(this.#pending.length, true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#key.fill(0);
    callback(error);
  }

  #seal(size: number, last: boolean): void {
    for (const piece of sealChunk(this.#key, this.#counter, last, this.#pending.take(size))) this.push(piece);
    this.#counter += 1;
  }
}
