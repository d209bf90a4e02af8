/**
 * Writes a snapshot's manifest: the write that makes the snapshot exist. A put can report a failure
 * after the object was stored: a response lost on the way back and retried into "already exists"
 * (create-only), a cancel that lands while the service commits, a directory fsync that fails after
 * the file was linked into place. A failed run removes what it wrote, and doing that here would
 * leave a manifest whose data is gone: the newest snapshot, kept by every retention rule, and
 * unrestorable. So a failed put reads the key back before anyone cleans up, and even a read-back
 * that finds nothing lets the data be removed only when the put's error says it was refused: after
 * a network error or a cancel the request may still commit, and some S3-compatible services are not
 * read-after-write consistent. Kept data costs space until maintenance, which removes a folder only
 * once it has checked again that no manifest appeared.
 */
import { Readable } from "node:stream";
import { HavenError, type ErrorCode } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { readTextIfPresent } from "../storage/read-text";
import type { PutOptions, StorageBackend } from "../storage/types";

/** How long the read-back may take; it runs even when the run was cancelled. */
const READ_BACK_MS = 30_000;

/** A failed manifest put whose outcome is unknown: the snapshot's data must stay for maintenance. */
export class ManifestOutcomeUnknown extends HavenError {
  constructor(key: string, cause: unknown, readBack: string) {
    const message = cause instanceof Error ? cause.message : String(cause);
    super(
      "TRANSIENT",
      `writing ${key} failed (${message}), and ${readBack}: the snapshot may or may not exist`,
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
 * the put was refused and the key holds nothing (then the caller may remove the snapshot's data),
 * and with ManifestOutcomeUnknown otherwise (then it must not).
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
    let stored: string | undefined;
    try {
      stored = await readTextIfPresent(storage, key, { signal: AbortSignal.timeout(READ_BACK_MS) });
    } catch (readBackError) {
      throw new ManifestOutcomeUnknown(key, error, `reading it back failed too (${String(readBackError)})`);
    }
    if (stored === undefined && wasRefused(error)) throw error;
    if (stored === undefined) throw new ManifestOutcomeUnknown(key, error, "it is not there yet");
    // Another manifest under this run's own key: not ours to judge, and not data to remove.
    if (stored !== manifest.toString("utf8"))
      throw new ManifestOutcomeUnknown(key, error, "it holds other bytes");
    logger.warn(
      { key, err: error instanceof Error ? error.message : String(error) },
      "the manifest's put reported an error, but the manifest is stored: the snapshot is committed",
    );
  }
}

/** The service refused the put (no request of it can still commit): credentials, permissions, config. */
function wasRefused(error: unknown): boolean {
  return error instanceof HavenError && REFUSALS.has(error.code);
}
const REFUSALS = new Set<ErrorCode>(["PERMANENT", "CREDENTIALS", "CONFIG", "REFUSED"]);
