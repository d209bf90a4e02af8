import { HavenError } from "../lib/errors";

/**
 * Every way decryption can fail maps to one HavenError code, DECRYPT (exit 12). The hints tell the
 * operator which of the three situations they are in: wrong key, damaged object, incomplete object.
 */
export const decryptHints = {
  wrongIdentity:
    "Use an identity file holding the secret key of one of the snapshot's recipients (the manifest lists " +
    "their fingerprints); old snapshots need the identities that were current when they were made.",
  corrupt:
    "The encrypted object is damaged or was altered: compare its sha256 with the manifest, and restore from " +
    "another copy or an older snapshot.",
  truncated:
    "The encrypted object is incomplete: read it again (a download may have been cut short), or restore " +
    "from another copy or an older snapshot.",
  notAge:
    "This object is not in the binary age v1 format; check that the snapshot is encrypted (see its manifest).",
} as const;

export function decryptError(message: string, hint: string, cause?: unknown): HavenError {
  return new HavenError("DECRYPT", message, cause === undefined ? { hint } : { hint, cause });
}

/** A malformed key or recipient in configuration or in a key file (exit 2, like any config error). */
export function keyFormatError(message: string, hint: string): HavenError {
  return new HavenError("CONFIG", message, { hint });
}
