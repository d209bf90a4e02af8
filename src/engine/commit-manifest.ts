/**
 * Writes a snapshot's manifest: the write that makes the snapshot exist. A put can report a failure
 * after the object was stored: a response lost on the way back and retried into "already exists"
 * (create-only), a cancel that lands while the service commits, a directory fsync that fails after
 * the file was linked into place. A failed run removes what it wrote, and doing that here would
 * leave a manifest whose data is gone: the newest snapshot, kept by every retention rule, and
 * unrestorable. So a failed put reads the key back before anyone cleans up.
 */
import { Readable } from "node:stream";
import { HavenError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import type { PutOptions, StorageBackend } from "../storage/types";

/** How long the read-back may take; it runs even when the run was cancelled. */
const READ_BACK_MS = 30_000;

/** A failed manifest put whose outcome is unknown: the snapshot's data must stay for maintenance. */
export class ManifestOutcomeUnknown extends HavenError {
  constructor(key: string, cause: unknown, readBackError: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(
      "TRANSIENT",
      `writing ${key} failed (${message}), and reading it back failed too (${String(readBackError)}): the snapshot may or may not exist`,
      {
        cause,
        hint: "its data is kept: if the manifest is there (haven snapshots), the snapshot is usable; otherwise maintenance removes the data after workers.staleUploadGrace",
      },
    );
  }
}

/**
 * Puts `manifest` under `key`. Resolves when it is stored, also when the put reported an error but
 * the bytes under `key` are exactly these (logged as a warning). Rejects with the put's error when
 * the key holds nothing or something else (then the caller may remove the snapshot's data), and
 * with ManifestOutcomeUnknown when it cannot be read back (then it must not).
 */
export async function commitManifest(
  storage: StorageBackend,
  key: string,
  manifest: Buffer,
  options: PutOptions,
  logger: Logger,
): Promise<void> {
  try {
    await storage.put(key, Readable.from([manifest]), options);
  } catch (error) {
    let stored: Buffer | null;
    try {
      stored = await readIfPresent(storage, key);
    } catch (readBackError) {
      throw new ManifestOutcomeUnknown(key, error, readBackError);
    }
    if (stored === null || !stored.equals(manifest)) throw error;
    logger.warn(
      { key, err: error instanceof Error ? error.message : String(error) },
      "the manifest's put reported an error, but the manifest is stored: the snapshot is committed",
    );
  }
}

async function readIfPresent(storage: StorageBackend, key: string): Promise<Buffer | null> {
  const signal = AbortSignal.timeout(READ_BACK_MS);
  let body: Readable;
  try {
    body = await storage.get(key, { signal });
  } catch (error) {
    if (error instanceof HavenError && error.code === "NOT_FOUND") return null;
    throw error;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
