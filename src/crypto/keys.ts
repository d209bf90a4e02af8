import { createHash, type KeyObject } from "node:crypto";
import { bech32 } from "bech32";
import { keyFormatError } from "./errors";
import {
  X25519_KEY_SIZE,
  generateX25519,
  privateKeyFromRaw,
  publicKeyFromRaw,
  rawPrivateKey,
  rawPublicKey,
} from "./x25519";

/**
 * age X25519 keys in their text forms.
 *
 * Glossary (age's own terms):
 * - **recipient**: a public key, `age1...` (Bech32, HRP "age"). Anyone holding it can encrypt; it is
 *   safe to print, log and put in config and manifests.
 * - **identity**: the matching secret key, `AGE-SECRET-KEY-1...` (Bech32, HRP "AGE-SECRET-KEY-").
 *   It decrypts; it never appears in a log, an error message or a manifest.
 */

/** A parsed `age1...` X25519 recipient. */
export interface AgeRecipient {
  readonly type: "X25519";
  /** Canonical (lowercase) Bech32 text, `age1...`. */
  readonly text: string;
  /** The raw 32-byte X25519 public key. */
  readonly publicKey: Buffer;
  /** The same key for Node's crypto. */
  readonly keyObject: KeyObject;
}

/**
 * A parsed `AGE-SECRET-KEY-1...` X25519 identity. The secret lives only in `privateKey`, a Node
 * KeyObject, which prints and serialises as an opaque object, never as key material.
 */
export interface AgeIdentity {
  readonly type: "X25519";
  /** The public half, e.g. to tell the operator which key was used. */
  readonly recipient: AgeRecipient;
  readonly privateKey: KeyObject;
}

const RECIPIENT_HRP = "age";
const IDENTITY_HRP = "age-secret-key-";
/** age puts no length limit on Bech32 strings (BIP173 says 90). */
const NO_LENGTH_LIMIT = Number.MAX_SAFE_INTEGER;

const RECIPIENT_HINT =
  "An age X25519 recipient looks like age1 followed by 58 lowercase letters and digits; copy it from " +
  "the `# public key:` line of an identity file, or print it with `age-keygen -y KEYFILE`.";
const IDENTITY_HINT =
  "An age X25519 identity is one line AGE-SECRET-KEY-1 followed by 58 characters, as written by " +
  "`age-keygen -o KEYFILE`; lines starting with # are comments.";

function decodeBech32(text: string): { prefix: string; bytes: Buffer } | null {
  const decoded = bech32.decodeUnsafe(text, NO_LENGTH_LIMIT);
  if (!decoded) return null;
  const bytes = bech32.fromWordsUnsafe(decoded.words);
  return bytes ? { prefix: decoded.prefix, bytes: Buffer.from(bytes) } : null;
}

function encodeBech32(prefix: string, bytes: Uint8Array): string {
  return bech32.encode(prefix, bech32.toWords(bytes), NO_LENGTH_LIMIT);
}

function recipientFromPublicKey(publicKey: Buffer): AgeRecipient {
  return {
    type: "X25519",
    text: encodeBech32(RECIPIENT_HRP, publicKey),
    publicKey,
    keyObject: publicKeyFromRaw(publicKey),
  };
}

/** Why a recipient of another kind is not accepted, or null when it may be an X25519 one. */
function unsupportedRecipientKind(text: string): string | null {
  const lower = text.toLowerCase();
  if (lower.startsWith("ssh-")) return "SSH public keys are not supported as recipients";
  if (lower.startsWith("age1pq1")) return "post-quantum (age1pq1...) recipients are not supported";
  return null;
}

/**
 * Parses an `age1...` X25519 recipient (all lowercase or all uppercase, per Bech32).
 * @throws HavenError CONFIG naming what is wrong; the message may quote the text (it is public).
 */
export function parseRecipient(text: string): AgeRecipient {
  const unsupported = unsupportedRecipientKind(text);
  if (unsupported) throw keyFormatError(`${unsupported}: "${text}"`, RECIPIENT_HINT);
  const decoded = decodeBech32(text);
  if (!decoded)
    throw keyFormatError(
      `"${text}" is not a valid age recipient (bad Bech32 encoding or checksum)`,
      RECIPIENT_HINT,
    );
  if (decoded.prefix !== RECIPIENT_HRP) {
    throw keyFormatError(
      `"${text}" is not an age X25519 recipient (prefix "${decoded.prefix}1"; age plugins are not supported)`,
      RECIPIENT_HINT,
    );
  }
  if (decoded.bytes.length !== X25519_KEY_SIZE) {
    throw keyFormatError(
      `"${text}" holds ${decoded.bytes.length} bytes, not a 32-byte X25519 key`,
      RECIPIENT_HINT,
    );
  }
  return recipientFromPublicKey(decoded.bytes);
}

/**
 * Parses one `AGE-SECRET-KEY-1...` identity. `where` (e.g. "key.txt:3") prefixes error messages, which
 * never quote the text: it is a secret.
 * @throws HavenError CONFIG
 */
export function parseIdentity(text: string, where = "identity"): AgeIdentity {
  if (/^AGE-PLUGIN-/i.test(text) || /^AGE-SECRET-KEY-PQ-/i.test(text)) {
    throw keyFormatError(
      `${where}: only X25519 identities (AGE-SECRET-KEY-1...) are supported`,
      IDENTITY_HINT,
    );
  }
  const decoded = decodeBech32(text);
  if (!decoded || decoded.prefix !== IDENTITY_HRP) {
    throw keyFormatError(`${where}: not a valid age identity (AGE-SECRET-KEY-1...)`, IDENTITY_HINT);
  }
  try {
    if (decoded.bytes.length !== X25519_KEY_SIZE) {
      throw keyFormatError(`${where}: the identity does not hold a 32-byte X25519 key`, IDENTITY_HINT);
    }
    const privateKey = privateKeyFromRaw(decoded.bytes);
    return { type: "X25519", privateKey, recipient: recipientFromPublicKey(rawPublicKey(privateKey)) };
  } finally {
    decoded.bytes.fill(0);
  }
}

/**
 * A fresh X25519 key pair in age's text forms, as `age-keygen` makes them. `identity` is a secret:
 * write it to a file with mode 0600 and never log it.
 */
export function generateIdentity(): { identity: string; recipient: string } {
  const { privateKey, publicKey } = generateX25519();
  const secret = rawPrivateKey(privateKey);
  try {
    return {
      identity: encodeBech32(IDENTITY_HRP, secret).toUpperCase(),
      recipient: encodeBech32(RECIPIENT_HRP, rawPublicKey(publicKey)),
    };
  } finally {
    secret.fill(0);
  }
}

/**
 * The sha256 (hex) of the canonical `age1...` text: what manifests record to say which keys can open a
 * snapshot, without any secret. A string is parsed first, so equal keys always give equal fingerprints.
 */
export function recipientFingerprint(recipient: AgeRecipient | string): string {
  const text = typeof recipient === "string" ? parseRecipient(recipient).text : recipient.text;
  return createHash("sha256").update(text).digest("hex");
}
