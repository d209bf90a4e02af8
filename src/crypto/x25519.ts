import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";

/**
 * Raw 32-byte X25519 keys <-> Node KeyObjects. Node 20 imports X25519 keys only as DER (or JWK), so a
 * raw key is wrapped in the fixed DER prefix of its RFC 8410 encoding (the prefix never varies for
 * X25519: algorithm OID 1.3.101.110 and a 32-byte key).
 */

export const X25519_KEY_SIZE = 32;

const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

export function privateKeyFromRaw(raw: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, raw]);
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } finally {
    der.fill(0);
  }
}

/** The raw public key of a public key, or of the public half of a private key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return publicKey.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
}

/** The raw secret scalar. Callers MUST wipe it (`fill(0)`) as soon as it has been encoded. */
export function rawPrivateKey(key: KeyObject): Buffer {
  const der = key.export({ format: "der", type: "pkcs8" });
  const raw = Buffer.from(der.subarray(PKCS8_PREFIX.length));
  der.fill(0);
  return raw;
}

export function generateX25519(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("x25519");
}

/**
 * X25519(privateKey, publicKey), or null when the result is all zeros (a low-order public key),
 * which age requires implementations to reject.
 */
export function x25519SharedSecret(privateKey: KeyObject, publicKey: KeyObject): Buffer | null {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey });
  } catch {
    // OpenSSL refuses to derive an all-zero secret itself.
    return null;
  }
  return shared.every((byte) => byte === 0) ? null : shared;
}
