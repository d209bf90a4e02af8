import { HavenError } from "../lib/errors";
import { decryptError, decryptHints } from "./errors";
import type { Stanza } from "./header";
import type { AgeIdentity, AgeRecipient } from "./keys";
import {
  decodeBase64Canonical,
  encodeBase64NoPad,
  FILE_KEY_SIZE,
  hkdfSha256,
  openOnce,
  sealOnce,
  TAG_SIZE,
} from "./primitives";
import {
  X25519_KEY_SIZE,
  generateX25519,
  publicKeyFromRaw,
  rawPublicKey,
  x25519SharedSecret,
} from "./x25519";

/**
 * The X25519 recipient stanza: `-> X25519 <ephemeral share>` and the file key sealed with
 * ChaCha20-Poly1305 under HKDF(shared secret, salt = ephemeral share || recipient).
 */

const STANZA_TYPE = "X25519";
const WRAP_INFO = "age-encryption.org/v1/X25519";
const WRAPPED_SIZE = FILE_KEY_SIZE + TAG_SIZE;

function wrapKey(sharedSecret: Buffer, ephemeralShare: Buffer, recipientKey: Buffer): Buffer {
  try {
    return hkdfSha256(sharedSecret, Buffer.concat([ephemeralShare, recipientKey]), WRAP_INFO);
  } finally {
    sharedSecret.fill(0);
  }
}

/** Wraps `fileKey` for one recipient, with a fresh ephemeral key (never reused across stanzas or files). */
export function wrapFileKey(fileKey: Buffer, recipient: AgeRecipient): Stanza {
  const ephemeral = generateX25519();
  const share = rawPublicKey(ephemeral.publicKey);
  const shared = x25519SharedSecret(ephemeral.privateKey, recipient.keyObject);
  if (!shared) {
    throw new HavenError("CONFIG", `age recipient ${recipient.text} is not a usable X25519 public key`, {
      hint: "Replace it in encryption.recipients with a recipient printed by `age-keygen -y KEYFILE`.",
    });
  }
  const key = wrapKey(shared, share, recipient.publicKey);
  try {
    return { args: [STANZA_TYPE, encodeBase64NoPad(share)], body: sealOnce(key, fileKey) };
  } finally {
    key.fill(0);
  }
}

export function isX25519Stanza(stanza: Stanza): boolean {
  return stanza.args[0] === STANZA_TYPE;
}

/**
 * Unwraps the file key from an X25519 stanza with `identity`: the file key, or null when the stanza is
 * addressed to another key.
 * @throws HavenError DECRYPT when the stanza is malformed (the spec says reject, not skip).
 */
export function unwrapFileKey(stanza: Stanza, identity: AgeIdentity): Buffer | null {
  const share = stanza.args.length === 2 ? decodeBase64Canonical(stanza.args[1] ?? "") : null;
  // The body length is checked before any decryption, to avoid a partitioning oracle.
  if (!share || share.length !== X25519_KEY_SIZE || stanza.body.length !== WRAPPED_SIZE) {
    throw decryptError("malformed X25519 recipient stanza in the age header", decryptHints.corrupt);
  }
  const shared = x25519SharedSecret(identity.privateKey, publicKeyFromRaw(share));
  if (!shared)
    throw decryptError("the age header holds an invalid X25519 ephemeral share", decryptHints.corrupt);
  const key = wrapKey(shared, share, identity.recipient.publicKey);
  try {
    return openOnce(key, stanza.body);
  } finally {
    key.fill(0);
  }
}
