/**
 * The one place where the engine meets the age implementation (src/crypto): recipients from the
 * config for backups, identities from the identity file for restores and verifications.
 */
import type { Transform } from "node:stream";
import {
  createDecryptStream,
  createEncryptStream,
  loadIdentityFile,
  parseRecipient,
  recipientFingerprint,
} from "../crypto/age";
import type { EncryptionConfig } from "../config/types";
import { HavenError } from "../lib/errors";

export interface EncryptionPlan {
  createStream(): Transform;
  /** sha256 fingerprints of the recipients, for the manifest. */
  fingerprints: string[];
}

export function encryptionPlan(config: EncryptionConfig | undefined): EncryptionPlan | null {
  if (!config) return null;
  const recipients = config.recipients.map((r) => parseRecipient(r));
  return {
    createStream: () => createEncryptStream(recipients),
    fingerprints: config.recipients.map((r) => recipientFingerprint(r)),
  };
}

/** Where restores and verifications on this host read the age identity: HAVEN_IDENTITY_FILE, or the config. */
export function identityFilePath(config: EncryptionConfig | undefined): string | undefined {
  return process.env.HAVEN_IDENTITY_FILE ?? config?.identityFile;
}

/** A decrypting stream for restores; the identity file comes from HAVEN_IDENTITY_FILE or the config. */
export async function createDecryptor(config: EncryptionConfig | undefined): Promise<Transform> {
  const path = identityFilePath(config);
  if (!path) {
    throw new HavenError("DECRYPT", "this snapshot is encrypted and no age identity is configured", {
      hint: "set encryption.identityFile in the config or HAVEN_IDENTITY_FILE to the age identity file",
    });
  }
  return createDecryptStream(await loadIdentityFile(path));
}
