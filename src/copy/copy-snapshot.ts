/**
 * Copies one snapshot from one destination to another (a target's `destinations: [primary, offsite]`),
 * in the order a backup writes it: every payload object first, streamed as stored (no decryption, no
 * decompression: the bytes are already what the manifest describes) and checked on arrival against the
 * manifest's size and sha256; the manifest last, create-only. Until the manifest lands, the copy does
 * not exist for any reader; objects of a copy that failed half way are overwritten by the next attempt
 * or removed by maintenance after its grace period.
 *
 * Idempotent: a destination that already holds the identical manifest holds the snapshot; nothing is
 * written. Object Lock of the receiving destination applies to every object written (see object-lock.ts).
 */
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import type { Logger } from "pino";
import { layout } from "../catalog/layout";
import { assertManifestBelongs, parseManifest } from "../catalog/catalog";
import type { StoredObject } from "../catalog/manifest";
import type { HavenConfig } from "../config/types";
import { HavenError, isHavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import type { StorageBackend } from "../storage/types";
import { snapshotRetainUntil } from "./object-lock";
import { assertPayloadPresent } from "../catalog/payload-present";

export interface CopyOptions {
  logger?: Logger;
  signal?: AbortSignal;
  /** The instant Object Lock dates are computed from. Default: the clock. */
  now?: Date;
}

export interface CopyResult {
  target: string;
  snapshotId: string;
  /** Destination names. */
  from: string;
  to: string;
  /** copied: written now; already-present: the destination held the identical manifest, nothing was written. */
  state: "copied" | "already-present";
  /** Payload objects and bytes written (0 when already present). */
  objects: number;
  bytes: number;
  /** The Object Lock date given to every object written, when `to` asks for locks. */
  retainUntil?: Date;
}

/**
 * Copies snapshot `snapshotId` of `target` from `from` to `to` (storages of two configured
 * destinations). Errors: NOT_FOUND when `from` has no such snapshot; TRANSIENT when either side is
 * unreachable (retry later: nothing visible was written); INTEGRITY when the bytes read do not match
 * the manifest (the source copy is damaged); PERMANENT when `to` holds a different manifest under the
 * same id. On any error no manifest is written to `to`.
 */
export async function copySnapshot(
  config: HavenConfig,
  target: string,
  snapshotId: string,
  from: StorageBackend,
  to: StorageBackend,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const logger = (options.logger ?? silentLogger).child({
    target,
    snapshot: snapshotId,
    from: from.name,
    to: to.name,
  });
  const base = { target, snapshotId, from: from.name, to: to.name };
  const manifestKey = layout.manifest(target, snapshotId);
  const raw = await readSourceManifest(from, target, snapshotId);
  const manifest = parseManifest(raw, `${from.location}/${manifestKey}`);
  assertManifestBelongs(manifest, target, snapshotId, `${from.name}:${layout.manifest(target, snapshotId)}`);

  if (await to.stat(manifestKey)) {
    await assertSameManifest(to, manifestKey, raw);
    logger.debug("already present");
    return { ...base, state: "already-present", objects: 0, bytes: 0 };
  }

  const retainUntil = snapshotRetainUntil(
    config,
    target,
    to.name,
    new Date(manifest.startedAt),
    options.now ?? new Date(),
  );
  const lock = retainUntil ? { retainUntil } : {};
  let bytes = 0;
  for (const object of manifest.payload) {
    options.signal?.throwIfAborted();
    await copyObject(from, to, object, { ...lock, ...(options.signal ? { signal: options.signal } : {}) });
    bytes += object.size;
  }
  await assertPayloadPresent(to, manifest.payload);

  try {
    await to.put(manifestKey, Readable.from([Buffer.from(raw)]), {
      createOnly: true,
      contentType: "application/json",
      ...lock,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    // Another copy of the same snapshot committed first: fine if it is the same manifest.
    if (!isHavenError(error, "ALREADY_EXISTS")) throw error;
    await assertSameManifest(to, manifestKey, raw);
    return { ...base, state: "already-present", objects: 0, bytes: 0 };
  }
  logger.info({ objects: manifest.payload.length, bytes }, "snapshot copied");
  return { ...base, state: "copied", objects: manifest.payload.length, bytes, ...lock };
}

/** Streams one stored object as is and checks what arrived against the manifest. */
async function copyObject(
  from: StorageBackend,
  to: StorageBackend,
  object: StoredObject,
  opts: { retainUntil?: Date; signal?: AbortSignal },
): Promise<void> {
  const body = await from.get(object.key, opts.signal ? { signal: opts.signal } : {});
  // The put reports a failure of the body itself; while a retrying put waits between attempts no
  // other listener is attached, and the source's error would crash the process.
  body.on("error", () => undefined);
  let stored;
  try {
    stored = await to.put(object.key, body, { ...opts, expectedSize: object.size });
  } catch (error) {
    body.destroy(); // a put that failed before reading leaves the body to us
    throw error;
  }
  if (stored.size === object.size && stored.sha256 === object.sha256) return;
  await to.remove([object.key]).catch(() => undefined);
  throw new HavenError(
    "INTEGRITY",
    `${object.key} read from destination ${from.name} has ${stored.size} bytes with sha256 ${stored.sha256}, but its manifest records ${object.size} bytes with sha256 ${object.sha256}; not copied to ${to.name}`,
    {
      hint: `the copy on ${from.name} (${from.location}) is damaged: check it with haven verify; the copy to ${to.name} was not committed`,
    },
  );
}

async function readSourceManifest(from: StorageBackend, target: string, id: string): Promise<string> {
  try {
    return await text(await from.get(layout.manifest(target, id)));
  } catch (error) {
    if (isHavenError(error, "NOT_FOUND")) {
      throw new HavenError("NOT_FOUND", `no snapshot ${id} of ${target} on ${from.name} to copy`, {
        hint: `it may have been pruned since; list what exists with: haven snapshots ${target}`,
        cause: error,
      });
    }
    throw error;
  }
}

async function assertSameManifest(to: StorageBackend, key: string, raw: string): Promise<void> {
  const existing = await text(await to.get(key));
  if (existing === raw) return;
  throw new HavenError("PERMANENT", `destination ${to.name} already holds a different manifest at ${key}`, {
    hint: `Haven never overwrites a manifest: compare the two (haven snapshots --from ${to.name}) and remove the wrong one by hand`,
  });
}
