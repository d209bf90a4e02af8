/**
 * What `haven doctor` says of this host's age identity. A backup needs only the recipients, so a
 * wrong identity shows first when a restore test fails, or in a disaster when a restore does: a file
 * missing, left readable by others (refused, see crypto/identity-file.ts), or holding a key that no
 * configured recipient matches, so that nothing written now could be decrypted with it.
 */
import type { EncryptionConfig } from "../config/types";
import { loadIdentityFile } from "../crypto/age";
import { errorParts } from "../lib/errors";
import { identityFilePath } from "./encryption";

export interface IdentityCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

/** Undefined when the config encrypts nothing. Never throws: a failure is a failed check. */
export async function checkIdentity(
  config: EncryptionConfig | undefined,
): Promise<IdentityCheck | undefined> {
  if (config === undefined) return undefined;
  const path = identityFilePath(config);
  if (path === undefined) {
    return {
      ok: true,
      detail: "none on this host: it can back up, but not restore or verify encrypted snapshots",
    };
  }
  let loaded: Awaited<ReturnType<typeof loadIdentityFile>>;
  try {
    loaded = await loadIdentityFile(path);
  } catch (error) {
    return { ok: false, ...errorParts(error) };
  }
  const keys = new Set(loaded.map((identity) => identity.recipient.text));
  const matched = config.recipients.filter((recipient) => keys.has(recipient.toLowerCase()));
  if (matched.length === 0) {
    return {
      ok: false,
      detail: `${path} holds no key for any of encryption.recipients: snapshots written now could not be decrypted with it`,
      fix: "point the identity file at the secret key of one of the recipients (haven keys check tests it against stored snapshots)",
    };
  }
  return { ok: true, detail: `${path}: the key of ${matched.join(", ")}` };
}
