/**
 * What prune keeps of a snapshot it removes: its manifest and every verification record, in one small
 * object `_pruned/<target>/<snapshotId>[.verified].json` on the same destination, written before anything is
 * deleted. Retention removes data, not history: the monthly report of a month whose daily snapshots
 * have been pruned since still counts their backups, gaps and restore tests, from the bucket alone.
 * If the record cannot be written, the snapshot is not removed.
 */
import { Readable } from "node:stream";
import { assertManifestBelongs, parseManifest } from "../catalog/catalog";
import { layout, parsePrunedKey, snapshotIdTime } from "../catalog/layout";
import type { Manifest } from "../catalog/manifest";
import { HavenError } from "../lib/errors";
import { readTextIfPresent } from "../storage/read-text";
import type { StorageBackend } from "../storage/types";
import type { SnapshotFolder } from "./inventory";

export const PRUNED_RECORD_FORMAT = 1;

export interface PrunedRecord {
  formatVersion: typeof PRUNED_RECORD_FORMAT;
  target: string;
  snapshotId: string;
  /** The destination the snapshot was removed from. */
  destination: string;
  prunedAt: string;
  /** The manifest as it was stored. */
  manifest: unknown;
  /** Every verification record as it was stored, oldest first; unreadable ones are left out. */
  verifications: unknown[];
}

/** Writes the pruned record of `folder`; nothing for a folder without a manifest (never a snapshot). */
export async function keepPrunedRecord(
  storage: StorageBackend,
  folder: SnapshotFolder,
  at: Date,
): Promise<void> {
  if (!folder.manifestKey) return;
  const manifest = await readJson(storage, folder.manifestKey);
  if (manifest === undefined) {
    throw new HavenError(
      "INTEGRITY",
      `the manifest of ${folder.target}/${folder.id} cannot be read as JSON`,
      {
        hint: `the snapshot is kept; its manifest ${folder.manifestKey} on ${storage.name} is damaged, so neither restore nor verify can use it: copy the manifest back from another destination holding this snapshot (\`haven snapshots ${folder.target}\` lists them), or delete the folder ${folder.target}/${folder.id}/ by hand if the snapshot is not needed`,
      },
    );
  }
  const verifications: unknown[] = [];
  for (const key of folder.verificationKeys) {
    const record = await readJson(storage, key);
    if (record !== undefined) verifications.push(record);
  }
  const record: PrunedRecord = {
    formatVersion: PRUNED_RECORD_FORMAT,
    target: folder.target,
    snapshotId: folder.id,
    destination: storage.name,
    prunedAt: at.toISOString(),
    manifest,
    verifications,
  };
  await storage.put(
    layout.pruned(folder.target, folder.id, verifications.length > 0),
    Readable.from([Buffer.from(JSON.stringify(record))]),
    {
      contentType: "application/json",
    },
  );
}

/** The parsed JSON of an object; undefined when it vanished or is not JSON. Storage errors propagate. */
async function readJson(storage: StorageBackend, key: string): Promise<unknown> {
  const raw = await readTextIfPresent(storage, key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

/** A pruned record as read back: its manifest checked like any manifest, its records still raw JSON. */
export interface PrunedEvidence {
  manifest: Manifest;
  /** The destination it was read from (not the one its JSON names: the bucket is not trusted for that). */
  destination: string;
  /** Verification records as stored; each reader parses them its own way. */
  verifications: unknown[];
}

/** A pruned record as listed. */
export interface PrunedKey {
  key: string;
  id: string;
  /** It holds verification records. */
  verified: boolean;
  /** When it was written (the prune); with `size`, what tells a rewritten record from the one cached. */
  lastModified: Date;
  size: number;
}

/**
 * The pruned records of `target` on `storage` to read: those whose listing passes `keep` (given the
 * snapshot's id time and the record's last-modified time, i.e. when it was pruned).
 */
export async function listPrunedKeys(
  storage: StorageBackend,
  target: string,
  keep: (record: { snapshotTime: Date; prunedAt: Date; verified: boolean }) => boolean,
): Promise<PrunedKey[]> {
  const keys: PrunedKey[] = [];
  for await (const object of storage.list(layout.prunedPrefix(target))) {
    const parsed = parsePrunedKey(object.key);
    if (!parsed || parsed.target !== target) continue;
    const listed = {
      snapshotTime: snapshotIdTime(parsed.id),
      prunedAt: object.lastModified,
      verified: parsed.verified,
    };
    if (!keep(listed)) continue;
    keys.push({
      key: object.key,
      id: parsed.id,
      verified: parsed.verified,
      lastModified: object.lastModified,
      size: object.size,
    });
  }
  return keys;
}

/**
 * Parses one pruned record read from `destination`. Throws, with `where`, when it is not one Haven
 * wrote for this snapshot: the manifest inside is trusted only for its own target and id.
 */
export function parsePrunedRecord(
  raw: string,
  where: string,
  expected: { target: string; id: string; destination: string },
): PrunedEvidence {
  let json: { formatVersion?: unknown; manifest?: unknown; verifications?: unknown };
  try {
    json = JSON.parse(raw) as typeof json;
  } catch {
    throw new Error(`pruned record ${where} is not valid JSON`);
  }
  if (json?.formatVersion !== PRUNED_RECORD_FORMAT) {
    throw new Error(`pruned record ${where} is not one this version of Haven reads`);
  }
  const manifest = parseManifest(JSON.stringify(json.manifest), `${where} (manifest)`);
  assertManifestBelongs(manifest, expected.target, expected.id, where);
  const verifications = (Array.isArray(json.verifications) ? json.verifications : []).filter(
    (r) => (r as { snapshotId?: unknown } | null)?.snapshotId === expected.id,
  );
  return { manifest, destination: expected.destination, verifications };
}
