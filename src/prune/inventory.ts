/**
 * What a destination holds for a target, folder by folder, from one listing. Prune deletes exactly the
 * objects listed here, never keys named inside a manifest: a corrupt or hostile manifest cannot make
 * prune delete anything outside its own snapshot folder.
 */
import { parseSnapshotKey } from "../catalog/layout";
import type { StorageBackend } from "../storage/types";

/** Every object of one snapshot folder (`<target>/<snapshotId>/`), as listed. */
export interface SnapshotFolder {
  readonly target: string;
  readonly id: string;
  /** null when the folder has no manifest: an incomplete run, left to maintenance (cleanupLeftovers). */
  readonly manifestKey: string | null;
  /** Payload objects (and anything else in the folder) but the manifest and the verification records. */
  readonly dataKeys: readonly string[];
  /** Verification records, oldest first (their names sort by time). */
  readonly verificationKeys: readonly string[];
}

const VERIFICATIONS = "verifications/";

/**
 * The snapshot folders under `prefix` (a target's prefix, or "" for the whole destination), keyed
 * `<target>/<snapshotId>`, in listing order. Keys outside the layout (other prefixes nested in the
 * same bucket, Haven's own `_audit/`) are ignored.
 */
export async function listSnapshotFolders(
  storage: StorageBackend,
  prefix: string,
): Promise<Map<string, SnapshotFolder>> {
  const building = new Map<
    string,
    { target: string; id: string; manifestKey: string | null; dataKeys: string[]; verificationKeys: string[] }
  >();
  for await (const object of storage.list(prefix)) {
    const parsed = parseSnapshotKey(object.key);
    if (!parsed) continue;
    const folderKey = `${parsed.target}/${parsed.id}`;
    let folder = building.get(folderKey);
    if (!folder) {
      folder = {
        target: parsed.target,
        id: parsed.id,
        manifestKey: null,
        dataKeys: [],
        verificationKeys: [],
      };
      building.set(folderKey, folder);
    }
    if (parsed.rest === "manifest.json") folder.manifestKey = object.key;
    else if (parsed.rest.startsWith(VERIFICATIONS)) folder.verificationKeys.push(object.key);
    else folder.dataKeys.push(object.key);
  }
  for (const folder of building.values()) folder.verificationKeys.sort();
  return building;
}

/** Every key of a folder: manifest first, then data, then verification records (the removal order). */
export function folderKeys(folder: SnapshotFolder): string[] {
  return [
    ...(folder.manifestKey ? [folder.manifestKey] : []),
    ...folder.dataKeys,
    ...folder.verificationKeys,
  ];
}
