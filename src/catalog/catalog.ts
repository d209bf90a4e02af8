/**
 * Reads what a destination holds, starting from manifests (a snapshot exists iff its manifest does).
 * Works with the destination alone: no Redis, no local state.
 */
import { text } from "node:stream/consumers";
import { HavenError } from "../lib/errors";
import type { StorageBackend } from "../storage/types";
import { layout, parseManifestKey, parseSnapshotKey, snapshotIdTime } from "./layout";
import { manifestSchema, MANIFEST_FORMAT_VERSION, type Manifest } from "./manifest";
import { mapLimit } from "../lib/map-limit";

export interface SnapshotRef {
  target: string;
  id: string;
  manifestKey: string;
}

/** Every snapshot (manifest) under the destination, or under one target, oldest first. */
export async function listSnapshotRefs(storage: StorageBackend, target?: string): Promise<SnapshotRef[]> {
  const refs: SnapshotRef[] = [];
  for await (const object of storage.list(target ? layout.targetPrefix(target) : "")) {
    const parsed = parseManifestKey(object.key);
    if (parsed) refs.push({ ...parsed, manifestKey: object.key });
  }
  return refs.sort((a, b) =>
    a.target === b.target ? a.id.localeCompare(b.id) : a.target.localeCompare(b.target),
  );
}

export async function readManifest(storage: StorageBackend, target: string, id: string): Promise<Manifest> {
  const key = layout.manifest(target, id);
  let raw: string;
  try {
    raw = await text(await storage.get(key));
  } catch (error) {
    if (error instanceof HavenError && error.code === "NOT_FOUND") {
      throw new HavenError("NOT_FOUND", `no snapshot ${id} of ${target} on ${storage.name}`, {
        hint: `list what exists with: haven snapshots ${target}`,
      });
    }
    throw error;
  }
  const manifest = parseManifest(raw, `${storage.location}/${key}`);
  assertManifestBelongs(manifest, target, id, `${storage.location}/${key}`);
  return manifest;
}

/**
 * A manifest must describe the snapshot whose folder holds it, and name only objects inside that
 * folder: a restore, a verification or a copy reads the keys it names, so a manifest moved by hand
 * or forged under `a/ID/` that names `b/...` would otherwise hand out another target's data.
 */
export function assertManifestBelongs(manifest: Manifest, target: string, id: string, where: string): void {
  const outside = manifest.payload.find((object) => {
    const parsed = parseSnapshotKey(object.key);
    return !parsed || parsed.target !== target || parsed.id !== id || parsed.rest === "manifest.json";
  });
  if (manifest.id !== id || manifest.target !== target || outside) {
    throw new HavenError(
      "INTEGRITY",
      `manifest ${where} does not describe snapshot ${id} of ${target}${outside ? ` (it names ${outside.key})` : ""}`,
      {
        hint: `Haven never writes such a manifest: inspect it, and restore another snapshot (haven snapshots ${target} lists them; pass --snapshot ID)`,
      },
    );
  }
}

export function parseManifest(raw: string, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new HavenError("INTEGRITY", `manifest ${where} is not valid JSON`, { cause: error });
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === "number" && version > MANIFEST_FORMAT_VERSION) {
    throw new HavenError(
      "PERMANENT",
      `manifest ${where} has format version ${version}, newer than this Haven`,
      {
        hint: "upgrade Haven to read this snapshot",
      },
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new HavenError("INTEGRITY", `manifest ${where} is malformed: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

/** Reads manifests with bounded parallelism; manifests that fail to parse are reported, not hidden. */
export async function loadManifests(
  storage: StorageBackend,
  refs: SnapshotRef[],
  parallel = 16,
): Promise<Array<{ ref: SnapshotRef; manifest?: Manifest; error?: string }>> {
  return mapLimit(refs, parallel, async (ref) => {
    try {
      return { ref, manifest: await readManifest(storage, ref.target, ref.id) };
    } catch (error) {
      return { ref, error: error instanceof Error ? error.message : String(error) };
    }
  });
}

export interface SnapshotSelector {
  /** An exact snapshot id. */
  id?: string;
  /** The newest snapshot taken at or before this time. */
  at?: Date;
}

/** The snapshot a restore means: by id, the newest at or before `at`, or the newest. */
export async function findSnapshot(
  storage: StorageBackend,
  target: string,
  selector: SnapshotSelector = {},
): Promise<Manifest> {
  if (selector.id) return readManifest(storage, target, selector.id);
  const refs = await listSnapshotRefs(storage, target);
  const loaded = await loadManifests(storage, refs);
  const at = selector.at?.getTime() ?? Infinity;
  // Ids have second precision; startedAt has milliseconds and orders snapshots of the same second.
  // `--at` compares whole seconds, so the time an operator reads off an id selects that snapshot.
  const candidates = loaded
    .flatMap((l) => (l.manifest ? [l.manifest] : []))
    .filter((m) => Math.floor(new Date(m.startedAt).getTime() / 1000) * 1000 <= at)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.id.localeCompare(b.id));
  const newest = candidates.at(-1);
  // A newer snapshot that cannot be read (damaged, or a newer format) must not be passed over in
  // silence: restoring an older one instead is the operator's choice, with --snapshot.
  const from = newest ? snapshotIdTime(newest.id).getTime() : -Infinity;
  const unreadable = loaded.findLast((l) => {
    const taken = snapshotIdTime(l.ref.id).getTime();
    return l.manifest === undefined && taken >= from && taken <= at;
  });
  if (unreadable) {
    throw new HavenError(
      "INTEGRITY",
      `snapshot ${unreadable.ref.id} of ${target} is the newest one asked for, and it cannot be read: ${unreadable.error ?? "unreadable"}`,
      {
        hint: newest
          ? `to restore the newest readable one instead, pass --snapshot ${newest.id}; if it is a newer format, upgrade Haven`
          : "if it is a newer format, upgrade Haven; haven snapshots lists what exists",
      },
    );
  }
  if (!newest) {
    const when = selector.at ? ` at or before ${selector.at.toISOString()}` : "";
    throw new HavenError(
      "NOT_FOUND",
      `no snapshot of ${target}${when} on ${storage.name} (${storage.location})`,
      {
        hint: `check the target name and destination; haven snapshots ${target} lists what exists`,
      },
    );
  }
  return newest;
}
