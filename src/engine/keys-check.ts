/**
 * `haven keys check`: proves every retained snapshot can be decrypted with the identities at hand, by
 * decrypting the first authenticated chunk of each encrypted object (header, file key, header MAC and
 * one payload chunk), not the whole payload. Old snapshots stay readable after a key rotation only
 * while their identity is kept: this is how an operator finds out before a disaster does.
 */
import { once } from "node:events";
import type { Readable } from "node:stream";
import { listSnapshotRefs, loadManifests } from "../catalog/catalog";
import type { HavenConfig } from "../config/types";
import { loadIdentityFile, type AgeIdentity } from "../crypto/age";
import { createDecryptStream } from "../crypto/age";
import { HavenError } from "../lib/errors";
import { identityFilePath } from "./encryption";
import type { Logger } from "../lib/logger";
import { createStorage } from "../storage";
import type { StorageBackend } from "../storage/types";

/** Enough ciphertext for the header and the first 64 KiB chunk. */
const PROBE_BYTES = 256 * 1024;

/**
 * One object checked, or one destination that could not be listed: then `target`, `snapshot` and
 * `object` are empty, and none of its snapshots was checked.
 */
export interface KeyCheckRow {
  destination: string;
  target: string;
  snapshot: string;
  object: string;
  ok: boolean;
  detail: string;
}

export interface KeyCheckSummary {
  /** Objects checked (and manifests that could not be read). */
  objects: number;
  /** Of those, the ones that failed. */
  failed: number;
  /** Destinations that could not be listed: none of their snapshots was checked. */
  unlisted: string[];
}

export function summarizeKeyCheck(rows: KeyCheckRow[]): KeyCheckSummary {
  const unlisted = rows.filter((r) => !r.ok && r.object === "").map((r) => r.destination);
  return {
    objects: rows.length - unlisted.length,
    failed: rows.filter((r) => !r.ok).length - unlisted.length,
    unlisted,
  };
}

export async function checkKeys(
  config: HavenConfig,
  options: { identityFile?: string; logger: Logger },
): Promise<KeyCheckRow[]> {
  const path = options.identityFile ?? identityFilePath(config.encryption);
  if (!path) {
    throw new HavenError("USAGE", "no age identity file to check with", {
      hint: "pass --identity FILE, set HAVEN_IDENTITY_FILE, or set encryption.identityFile in the config",
    });
  }
  const identities = await loadIdentityFile(path);
  const rows: KeyCheckRow[] = [];
  // Every destination is checked whatever the others do: one that is down must not hide the key
  // problem of another, which is what this command exists to find.
  for (const destination of Object.values(config.destinations)) {
    const storage = createStorage(destination, options.logger);
    try {
      rows.push(...(await checkDestination(storage, identities)));
    } catch (error) {
      const detail = `could not list it: ${error instanceof Error ? error.message : String(error)}`;
      rows.push({ destination: destination.name, target: "", snapshot: "", object: "", ok: false, detail });
    } finally {
      await storage.close();
    }
  }
  return rows;
}

/** One row per encrypted object (and per unreadable manifest); throws when the listing fails. */
async function checkDestination(storage: StorageBackend, identities: AgeIdentity[]): Promise<KeyCheckRow[]> {
  const rows: KeyCheckRow[] = [];
  for (const { ref, manifest, error } of await loadManifests(storage, await listSnapshotRefs(storage))) {
    if (!manifest) {
      rows.push({
        destination: storage.name,
        target: ref.target,
        snapshot: ref.id,
        object: "manifest.json",
        ok: false,
        detail: error ?? "unreadable",
      });
      continue;
    }
    for (const object of manifest.payload.filter((o) => o.encryption !== null)) {
      const detail = await decryptsFirstChunk(storage, object.key, object.size, identities);
      rows.push({
        destination: storage.name,
        target: ref.target,
        snapshot: ref.id,
        object: object.key,
        ok: detail === null,
        detail: detail ?? "decrypts",
      });
    }
  }
  return rows;
}

/** null when the first chunk decrypts and authenticates; the reason otherwise. */
async function decryptsFirstChunk(
  storage: StorageBackend,
  key: string,
  size: number,
  identities: AgeIdentity[],
): Promise<string | null> {
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
  let body: Readable;
  try {
    body = await storage.get(key, { range: [0, Math.min(size, PROBE_BYTES) - 1] });
  } catch (error) {
    // A missing or unreadable object is this object's row, not the end of the whole check.
    return `could not read it: ${message(error)}`;
  }
  const decrypt = createDecryptStream(identities);
  body.pipe(decrypt); // pipe() does not pass the body's errors on: they are raced below
  const outcome = await Promise.race([
    once(decrypt, "data").then(() => null),
    once(decrypt, "end").then(() => null), // an empty payload: the header and MAC checked out
    once(decrypt, "error").then(([error]) => message(error)),
    once(body, "error").then(([error]) => `could not read it: ${message(error)}`),
  ]).catch((error: unknown) => message(error));
  body.destroy();
  decrypt.destroy();
  return outcome;
}
