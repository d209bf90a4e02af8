import { Transform, type TransformCallback } from "node:stream";
import { ByteQueue } from "./byte-queue";
import { decryptError, decryptHints } from "./errors";
import { macMatches, parseHeader, type ParsedHeader } from "./header";
import type { AgeIdentity } from "./keys";
import { CHUNK_SIZE, PAYLOAD_NONCE_SIZE, SEALED_CHUNK_SIZE, openChunk, payloadKey } from "./payload";
import { TAG_SIZE } from "./primitives";
import { isX25519Stanza, unwrapFileKey } from "./x25519-stanza";

/**
 * Decrypts a binary age v1 stream with any of `identities`.
 *
 * Guarantees: a chunk's plaintext is emitted only after that chunk has been authenticated; and the
 * stream fails (an 'error', never 'end') with HavenError DECRYPT (exit 12) when no identity fits, the
 * header or its MAC was altered, any chunk fails authentication, the final chunk is missing (the input
 * was cut, even exactly at a chunk boundary), or bytes follow the final chunk. A consumer that sees
 * 'end' has therefore received exactly the plaintext that was encrypted. Memory stays below one
 * encrypted chunk plus the incoming buffer (and at most MAX_HEADER_SIZE while reading the header).
 *
 * @throws HavenError DECRYPT at creation when `identities` is empty.
 */
export function createDecryptStream(identities: readonly AgeIdentity[]): Transform {
  if (identities.length === 0) {
    throw decryptError(
      "no age identity to decrypt with",
      "Set encryption.identityFile to an age identity file.",
    );
  }
  return new AgeDecryptStream(identities);
}

/** Finds the file key in the header's X25519 stanzas and checks the header MAC with it. */
function unlockFileKey(header: ParsedHeader, identities: readonly AgeIdentity[]): Buffer {
  const stanzas = header.stanzas.filter(isX25519Stanza);
  if (stanzas.length === 0) {
    const types = [...new Set(header.stanzas.map((stanza) => stanza.args[0] ?? ""))];
    if (types.includes("scrypt")) {
      throw decryptError(
        "the file is encrypted with a passphrase, not to a key",
        "Decrypt it with `age -d`.",
      );
    }
    throw decryptError(
      `the file is not encrypted to any X25519 recipient (it has ${types.join(", ")} stanzas)`,
      decryptHints.wrongIdentity,
    );
  }
  for (const stanza of stanzas) {
    for (const identity of identities) {
      const fileKey = unwrapFileKey(stanza, identity);
      if (!fileKey) continue;
      if (!macMatches(fileKey, header)) {
        fileKey.fill(0);
        throw decryptError("the age header MAC does not match: the header was altered", decryptHints.corrupt);
      }
      return fileKey;
    }
  }
  const keys = identities.map((identity) => identity.recipient.text).join(", ");
  throw decryptError(
    `none of the given identities can decrypt this file (it has ${stanzas.length} X25519 recipient(s); tried ${keys})`,
    decryptHints.wrongIdentity,
  );
}

class AgeDecryptStream extends Transform {
  readonly #identities: readonly AgeIdentity[];
  /** Bytes received while the header is incomplete; null once it has been parsed. */
  #headerBytes: Buffer | null = Buffer.alloc(0);
  #fileKey: Buffer | null = null;
  #key: Buffer | null = null;
  readonly #pending = new ByteQueue();
  #counter = 0;

  constructor(identities: readonly AgeIdentity[]) {
    super({ writableHighWaterMark: SEALED_CHUNK_SIZE, readableHighWaterMark: 2 * CHUNK_SIZE });
    this.#identities = identities;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.#headerBytes) {
        const bytes = this.#headerBytes.length === 0 ? chunk : Buffer.concat([this.#headerBytes, chunk]);
        const header = parseHeader(bytes);
        if (!header) {
          this.#headerBytes = bytes;
          callback();
          return;
        }
        this.#headerBytes = null;
        this.#fileKey = unlockFileKey(header, this.#identities);
        chunk = bytes.subarray(header.length);
      }
      this.#pending.push(chunk);
      if (!this.#key && this.#fileKey && this.#pending.length >= PAYLOAD_NONCE_SIZE) {
        this.#key = payloadKey(this.#fileKey, this.#pending.takeContiguous(PAYLOAD_NONCE_SIZE));
        this.#fileKey.fill(0);
      }
      // A full chunk with more bytes after it is not the final one; the final one is opened at flush.
      while (this.#key && this.#pending.length > SEALED_CHUNK_SIZE) this.#open(SEALED_CHUNK_SIZE, false);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.#headerBytes) {
        throw this.#headerBytes.length === 0
          ? decryptError("the encrypted input is empty", decryptHints.truncated)
          : decryptError("the encrypted input ends inside the age header", decryptHints.truncated);
      }
      if (!this.#key)
        throw decryptError("the encrypted input ends before its payload", decryptHints.truncated);
      if (this.#pending.length === 0) {
        throw decryptError(
          `the encrypted input ends after chunk ${this.#counter} without a final chunk: it was cut short`,
          decryptHints.truncated,
        );
      }
      if (this.#pending.length < TAG_SIZE) {
        throw decryptError(
          "the encrypted input ends inside a chunk: it was cut short",
          decryptHints.truncated,
        );
      }
      this.#open(this.#pending.length, true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#fileKey?.fill(0);
    this.#key?.fill(0);
    callback(error);
  }

  #open(size: number, last: boolean): void {
    const key = this.#key as Buffer;
    const ciphertext = this.#pending.take(size - TAG_SIZE);
    const tag = this.#pending.takeContiguous(TAG_SIZE);
    const plaintext = openChunk(key, this.#counter, last, ciphertext, tag);
    if (!plaintext) throw this.#explainFailure(key, last, ciphertext, tag, size);
    if (last && size === TAG_SIZE && this.#counter > 0) {
      throw decryptError(
        "the age payload ends with an empty final chunk, which the format forbids",
        decryptHints.corrupt,
      );
    }
    this.#counter += 1;
    for (const piece of plaintext) this.push(piece);
  }

  /** Tells a cut or an appendage from damage, by trying the other final-chunk flag (only on failure). */
  #explainFailure(key: Buffer, last: boolean, ciphertext: Buffer[], tag: Buffer, size: number): Error {
    const chunk = this.#counter;
    if (!last && openChunk(key, chunk, true, ciphertext, tag)) {
      return decryptError(
        `unexpected data after the final chunk (${chunk}) of the age payload`,
        decryptHints.corrupt,
      );
    }
    if (last && size === SEALED_CHUNK_SIZE && openChunk(key, chunk, false, ciphertext, tag)) {
      return decryptError(
        `the encrypted input ends after chunk ${chunk + 1} without a final chunk: it was cut short`,
        decryptHints.truncated,
      );
    }
    return last
      ? decryptError(
          `the last chunk (${chunk}) of the age payload failed authentication: the input is cut short or damaged`,
          decryptHints.corrupt,
        )
      : decryptError(
          `chunk ${chunk} of the age payload failed authentication: the data is damaged`,
          decryptHints.corrupt,
        );
  }
}
