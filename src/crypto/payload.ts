import { createCipheriv, createDecipheriv } from "node:crypto";
import { hkdfSha256, NONCE_SIZE, TAG_SIZE } from "./primitives";

/**
 * The age v1 payload (a STREAM construction): a 16-byte random nonce, then the plaintext in 64 KiB
 * chunks, each sealed with ChaCha20-Poly1305 under HKDF(file key, salt = nonce, "payload"), with the
 * 12-byte AEAD nonce = 11-byte big-endian chunk counter || 0x01 for the final chunk, else 0x00. The
 * final chunk may be short (or full); it is empty only when the whole plaintext is.
 */

export const CHUNK_SIZE = 64 * 1024;
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const PAYLOAD_NONCE_SIZE = 16;

const CHACHA = "chacha20-poly1305";
const PAYLOAD_INFO = "payload";
/** The counter is written as 6 bytes (2^48 chunks = 16 EiB); the 5 bytes above stay zero. */
export const COUNTER_BYTES = 6;
export const MAX_CHUNKS = 2 ** (8 * COUNTER_BYTES);

export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return hkdfSha256(fileKey, nonce, PAYLOAD_INFO);
}

/**
 * Slices as the cipher should see them. A chunk made of many small slices (a source writing tiny
 * buffers) is joined once: one 64 KiB copy costs far less than thousands of cipher calls and outputs.
 */
function coalesce(pieces: readonly Buffer[]): readonly Buffer[] {
  return pieces.length > MAX_SLICES_PER_CHUNK ? [Buffer.concat(pieces)] : pieces;
}
const MAX_SLICES_PER_CHUNK = 8;

function chunkNonce(counter: number, last: boolean): Buffer {
  if (counter >= MAX_CHUNKS) throw new RangeError("age payload chunk counter overflow");
  const nonce = Buffer.alloc(NONCE_SIZE);
  nonce.writeUIntBE(counter, NONCE_SIZE - 1 - COUNTER_BYTES, COUNTER_BYTES);
  nonce[NONCE_SIZE - 1] = last ? 1 : 0;
  return nonce;
}

/**
 * Seals one chunk given as consecutive slices (so the caller never has to join them).
 * Returns the ciphertext: one buffer per input slice, then the tag.
 */
export function sealChunk(
  key: Buffer,
  counter: number,
  last: boolean,
  plaintext: readonly Buffer[],
): Buffer[] {
  const cipher = createCipheriv(CHACHA, key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  const out = coalesce(plaintext).map((piece) => cipher.update(piece));
  cipher.final();
  out.push(cipher.getAuthTag());
  return out;
}

/**
 * Opens one chunk. Returns the plaintext slices only once the whole chunk has been authenticated,
 * or null when authentication fails (wrong position, wrong final flag, or altered bytes).
 */
export function openChunk(
  key: Buffer,
  counter: number,
  last: boolean,
  ciphertext: readonly Buffer[],
  tag: Buffer,
): Buffer[] | null {
  const decipher = createDecipheriv(CHACHA, key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  decipher.setAuthTag(tag);
  const out = coalesce(ciphertext).map((piece) => decipher.update(piece));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return out;
}
