/**
 * Reads what the report needs about one target from its destinations: one listing per destination
 * (which snapshots each holds, and the size of every object), the manifests of the snapshots started
 * before the end of the period, and the verification records of the trend window, with the pruned
 * records (pruned.ts) of snapshots retention removed since. The bucket is the only source, so the
 * report of a past month can be made again on a fresh install.
 *
 * Storage errors (unreachable, credentials) propagate: a report made from half the data must not be
 * sent as evidence; the report job is retried instead. Objects that cannot be parsed are listed in
 * `problems`, never hidden.
 */
import { parseManifest } from "../catalog/catalog";
import { layout, parseSnapshotKey, snapshotIdTime, verificationKeyTime } from "../catalog/layout";
import type { Manifest } from "../catalog/manifest";
import { readTextIfPresent } from "../storage/read-text";
import type { StorageBackend } from "../storage/types";
import type { VerificationRecord } from "../verify/record";
import { listPrunedKeys } from "../prune/evidence";
import { parsePrunedSnapshot } from "./pruned";
import { parseRecord } from "./parse-record";
import { mapLimit } from "../lib/map-limit";

/** One stored object of a snapshot, as listed. */
export interface ListedObject {
  destination: string;
  snapshotId: string;
  size: number;
  /** For a verification record: the time in its key (its finish); null for other objects. */
  recordAt: Date | null;
}

export interface TargetBucketData {
  target: string;
  /**
   * Manifests of the snapshots started before `until`, oldest first (by id), with those of snapshots
   * pruned since that started in the trend window.
   */
  manifests: Manifest[];
  /** Snapshot id → the destinations whose listing holds its manifest. */
  presence: Map<string, string[]>;
  /** Snapshot id → the destinations it was pruned from (it was there until then). */
  pruned: Map<string, string[]>;
  objects: ListedObject[];
  /**
   * Verification records finished in `[recordsFrom, until)` whose snapshot has a manifest (or a pruned
   * record), oldest first.
   */
  records: VerificationRecord[];
  /**
   * Manifests of the snapshots started in `[until, answersUntil)`: not the period's, but one may
   * answer a firing of its last day (see `answersUntil` in schedule.ts).
   */
  late?: Manifest[];
  problems: string[];
}

export interface ReadTargetOptions {
  /** Snapshots started at or after this are ignored, and so are records finished at or after it. */
  until: Date;
  /** Records finished before this are not read (the start of the trend window). */
  recordsFrom: Date;
  /** Objects read at once. Default 16. */
  parallel?: number;
  /** Also read the manifests of snapshots started in `[until, answersUntil)`, as `late`. */
  answersUntil?: Date;
}

/** `storages` in the target's destination order; the first holding a snapshot is where it is read. */
export async function readTarget(
  target: string,
  storages: readonly StorageBackend[],
  options: ReadTargetOptions,
): Promise<TargetBucketData> {
  const until = options.until.getTime();
  const presence = new Map<string, string[]>();
  const manifestSource = new Map<string, StorageBackend>();
  const recordKeys = new Map<
    string,
    { storage: StorageBackend; key: string; snapshotId: string; at: Date }
  >();
  const objects: ListedObject[] = [];
  const lateSource = new Map<string, StorageBackend>();
  const lateUntil = options.answersUntil?.getTime() ?? until;

  for (const storage of storages) {
    for await (const object of storage.list(layout.targetPrefix(target))) {
      const parsed = parseSnapshotKey(object.key);
      if (!parsed || parsed.target !== target) continue;
      const startedAt = snapshotIdTime(parsed.id).getTime();
      if (startedAt >= until) {
        if (startedAt < lateUntil && parsed.rest === "manifest.json" && !lateSource.has(parsed.id))
          lateSource.set(parsed.id, storage);
        continue;
      }
      const recordAt = verificationKeyTime(parsed.rest);
      objects.push({ destination: storage.name, snapshotId: parsed.id, size: object.size, recordAt });
      if (parsed.rest === "manifest.json") {
        presence.set(parsed.id, [...(presence.get(parsed.id) ?? []), storage.name]);
        if (!manifestSource.has(parsed.id)) manifestSource.set(parsed.id, storage);
      } else if (
        recordAt &&
        recordAt.getTime() >= options.recordsFrom.getTime() &&
        recordAt.getTime() < until
      ) {
        // The same record copied to several destinations is one verification.
        const id = `${parsed.id}/${parsed.rest}`;
        if (!recordKeys.has(id))
          recordKeys.set(id, { storage, key: object.key, snapshotId: parsed.id, at: recordAt });
      }
    }
  }

  const problems: string[] = [];
  const parallel = options.parallel ?? 16;
  const manifests = (
    await mapLimit([...manifestSource], parallel, async ([id, storage]) =>
      readParsed(storage, layout.manifest(target, id), parseManifest, problems),
    )
  )
    .filter((m): m is Manifest => m !== undefined)
    .sort((a, b) => a.id.localeCompare(b.id));

  const late = (
    await mapLimit([...lateSource], parallel, async ([id, storage]) =>
      readParsed(storage, layout.manifest(target, id), parseManifest, problems),
    )
  ).filter((m): m is Manifest => m !== undefined);

  const known = new Set(manifests.map((m) => m.id));
  const records = (
    await mapLimit(
      [...recordKeys.values()].filter((r) => known.has(r.snapshotId)),
      parallel,
      ({ storage, key }) => readParsed(storage, key, parseRecord, problems),
    )
  ).filter((r): r is VerificationRecord => r !== undefined);

  // Pruned records: snapshots that started in the window, or were pruned in it (their verifications
  // may fall in the window though the snapshot is older).
  const pruned = new Map<string, string[]>();
  const seen = new Set(records.map(recordIdentity));
  const from = options.recordsFrom.getTime();
  for (const storage of storages) {
    const keys = await listPrunedKeys(
      storage,
      target,
      ({ snapshotTime, prunedAt }) =>
        snapshotTime.getTime() < until && (snapshotTime.getTime() >= from || prunedAt.getTime() >= from),
    );
    const found = await mapLimit(keys, parallel, ({ key, id }) =>
      readParsed(
        storage,
        key,
        (raw, where) => parsePrunedSnapshot(raw, where, { target, id, destination: storage.name }),
        problems,
      ),
    );
    for (const snapshot of found) {
      if (!snapshot) continue;
      const { manifest } = snapshot;
      pruned.set(manifest.id, [...(pruned.get(manifest.id) ?? []), snapshot.destination]);
      if (!known.has(manifest.id)) {
        known.add(manifest.id);
        manifests.push(manifest);
      }
      // Verification records live on the primary only: pruned there, the snapshot may still be held
      // elsewhere, and its records are only here. The same record kept twice counts once.
      for (const record of snapshot.records) {
        if (!inWindow(record.finishedAt, options) || seen.has(recordIdentity(record))) continue;
        seen.add(recordIdentity(record));
        records.push(record);
      }
    }
  }
  manifests.sort((a, b) => a.id.localeCompare(b.id));
  records.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));

  return { target, manifests, presence, pruned, objects, records, late, problems };
}

function recordIdentity(record: VerificationRecord): string {
  return `${record.snapshotId}|${record.kind}|${record.startedAt}|${record.finishedAt}`;
}

function inWindow(iso: string, options: ReadTargetOptions): boolean {
  const t = new Date(iso).getTime();
  return t >= options.recordsFrom.getTime() && t < options.until.getTime();
}

/** Reads a JSON object; undefined when it vanished since the listing (a prune) or cannot be parsed. */
async function readParsed<T>(
  storage: StorageBackend,
  key: string,
  parse: (raw: string, where: string) => T,
  problems: string[],
): Promise<T | undefined> {
  const raw = await readTextIfPresent(storage, key);
  if (raw === undefined) return undefined;
  try {
    return parse(raw, `${storage.location}/${key}`);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
    return undefined;
  }
}
