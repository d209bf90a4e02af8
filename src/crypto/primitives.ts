import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";

/**
 * The few cryptographic building blocks age v1 needs, on Node's native (OpenSSL) implementations.
 * Sizes and labels are fixed by the format (https://age-encryption.org/v1).
 */

/** Length of a Poly1305 authentication tag. */
export const TAG_SIZE = 16;
/** Length of a ChaCha20-Poly1305 key. */
export const KEY_SIZE = 32;
/** Length of a ChaCha20-Poly1305 nonce. */
export const NONCE_SIZE = 12;
/** age's file key: 128 random bits, one per file. */
export const FILE_KEY_SIZE = 16;

const CHACHA = "chacha20-poly1305";
const ZERO_NONCE = Buffer.alloc(NONCE_SIZE);

/** HKDF-SHA-256 (extract then expand) with 32 bytes of output, as every age key derivation uses. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, KEY_SIZE));
}

/** ChaCha20-Poly1305 with the all-zero nonce, for keys used exactly once (stanza wrapping). */
export function sealOnce(key: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv(CHACHA, key, ZERO_NONCE, { authTagLength: TAG_SIZE });
  const body = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([body, cipher.getAuthTag()]);
}

/** Opens what `sealOnce` sealed; null when authentication fails (wrong key or altered data). */
export function openOnce(key: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG_SIZE) return null;
  const decipher = createDecipheriv(CHACHA, key, ZERO_NONCE, { authTagLength: TAG_SIZE });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return plain;
}

/** Encodes standard base64 without `=` padding, as age writes it. */
export function encodeBase64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "");
}

const BASE64_CHARS = /^[A-Za-z0-9+/]*$/;

/**
 * Decodes unpadded standard base64, or returns null. age requires decoders to reject padding and
 * non-canonical encodings (unused low bits set), which Node's lenient decoder would accept.
 */
export function decodeBase64Canonical(text: string): Buffer | null {
  if (!BASE64_CHARS.test(text)) return null;
  const bytes = Buffer.from(text, "base64");
  return encodeBase64NoPad(bytes) === text ? bytes : null;
}
