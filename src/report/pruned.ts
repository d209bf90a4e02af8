/**
 * Reads the pruned records of a target (src/prune/evidence.ts): the manifests and verification
 * records of snapshots that retention has removed since. Without them, the report of a month whose
 * daily snapshots were pruned would count their backups as missed and their time as an RPO gap.
 */
import { assertManifestBelongs, parseManifest } from "../catalog/catalog";
import { layout, parsePrunedKey, snapshotIdTime } from "../catalog/layout";
import type { Manifest } from "../catalog/manifest";
import type { StorageBackend } from "../storage/types";
import type { VerificationRecord } from "../verify/record";
import { parseRecord } from "./parse-record";

export interface PrunedSnapshot {
  manifest: Manifest;
  /** The destination it was removed from. */
  destination: string;
  records: VerificationRecord[];
}

/** The keys of the pruned records of `target` on `storage` whose snapshot started in `[from, until)`. */
export async function listPrunedKeys(
  storage: StorageBackend,
  target: string,
  window: { from: Date; until: Date },
): Promise<Array<{ key: string; id: string }>> {
  const keys: Array<{ key: string; id: string }> = [];
  for await (const object of storage.list(layout.prunedPrefix(target))) {
    const parsed = parsePrunedKey(object.key);
    if (!parsed || parsed.target !== target) continue;
    const t = snapshotIdTime(parsed.id).getTime();
    if (t >= window.from.getTime() && t < window.until.getTime())
      keys.push({ key: object.key, id: parsed.id });
  }
  return keys;
}

/**
 * Parses one pruned record. Throws, with `where`, when it is not one Haven wrote for this snapshot: a
 * manifest inside it is trusted only for its own target and id, like any manifest.
 */
export function parsePrunedRecord(raw: string, where: string, target: string, id: string): PrunedSnapshot {
  let json: { formatVersion?: unknown; destination?: unknown; manifest?: unknown; verifications?: unknown };
  try {
    json = JSON.parse(raw) as typeof json;
  } catch {
    throw new Error(`pruned record ${where} is not valid JSON`);
  }
  if (json?.formatVersion !== 1 || typeof json.destination !== "string") {
    throw new Error(`pruned record ${where} is not one this version of Haven reads`);
  }
  const manifest = parseManifest(JSON.stringify(json.manifest), `${where} (manifest)`);
  assertManifestBelongs(manifest, target, id, where);
  const records = (Array.isArray(json.verifications) ? json.verifications : []).flatMap((r) => {
    try {
      const record = parseRecord(JSON.stringify(r), `${where} (verification)`);
      return record.snapshotId === id ? [record] : [];
    } catch {
      return []; // an unreadable record is no evidence; the manifest still is
    }
  });
  return { manifest, destination: json.destination, records };
}
