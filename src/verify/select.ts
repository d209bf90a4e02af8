/**
 * Which snapshot a verification checks, and whether the target's backups are fresh. Reads only the
 * destination: the snapshot list (ids sort by time, so a window needs no manifests), the chosen
 * manifest and the newest one.
 */
import { listSnapshotRefs, readManifest, type SnapshotRef } from "../catalog/catalog";
import { snapshotIdTime } from "../catalog/layout";
import type { Manifest } from "../catalog/manifest";
import type { TargetConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import type { StorageBackend } from "../storage/types";
import { freshnessCheck } from "./checks";
import type { CheckResult } from "./record";

export interface SnapshotChoiceOptions {
  /** An exact snapshot id; wins over `randomWithin`. */
  snapshotId?: string;
  /** Pick a random snapshot taken within this many ms before `now` instead of the newest. */
  randomWithinMs?: number;
  now: Date;
  /** [0, 1), like Math.random (injectable for tests). */
  random: () => number;
}

export interface SnapshotChoice {
  /** The snapshot to verify. */
  manifest: Manifest;
  /** The newest readable snapshot of the target (the freshness guard looks at it). */
  newest: Manifest;
  freshness: CheckResult;
}

export async function chooseSnapshot(
  storage: StorageBackend,
  target: TargetConfig,
  options: SnapshotChoiceOptions,
): Promise<SnapshotChoice> {
  const refs = await listSnapshotRefs(storage, target.name);
  const newest = await newestReadable(storage, target.name, refs);
  if (!newest) {
    throw new HavenError(
      "NOT_FOUND",
      `no snapshot of ${target.name} on ${storage.name} (${storage.location})`,
      {
        hint: `there is nothing to verify yet: run haven backup ${target.name}, then verify`,
      },
    );
  }
  let manifest = newest;
  if (options.snapshotId) {
    manifest =
      options.snapshotId === newest.id
        ? newest
        : await readManifest(storage, target.name, options.snapshotId);
  } else if (options.randomWithinMs !== undefined) {
    const since = options.now.getTime() - options.randomWithinMs;
    const window = refs.filter((r) => snapshotIdTime(r.id).getTime() >= since);
    const picked = window[Math.min(window.length - 1, Math.floor(options.random() * window.length))];
    // An empty window (no backup within it) falls back to the newest; freshness reports the gap.
    if (picked && picked.id !== newest.id) manifest = await readManifest(storage, target.name, picked.id);
  }
  return { manifest, newest, freshness: freshnessCheck(newest, target.rpo, options.now) };
}

/**
 * The newest snapshot whose manifest parses; an unreadable newest one must not hide older ones.
 * Ids have second precision and a random tail, so snapshots of the same second are told apart by
 * their manifests' startedAt (milliseconds), not by the order of their ids.
 */
async function newestReadable(
  storage: StorageBackend,
  target: string,
  refs: readonly SnapshotRef[],
): Promise<Manifest | undefined> {
  let firstError: unknown;
  for (let i = refs.length - 1; i >= 0; i--) {
    let newest: Manifest;
    try {
      newest = await readManifest(storage, target, (refs[i] as SnapshotRef).id);
    } catch (error) {
      firstError ??= error;
      continue;
    }
    const second = snapshotIdTime(newest.id).getTime();
    for (let j = i - 1; j >= 0 && snapshotIdTime((refs[j] as SnapshotRef).id).getTime() === second; j--) {
      const sibling = await readManifest(storage, target, (refs[j] as SnapshotRef).id).catch(() => null);
      if (sibling && sibling.startedAt > newest.startedAt) newest = sibling;
    }
    return newest;
  }
  if (firstError) throw firstError as Error;
  return undefined;
}
