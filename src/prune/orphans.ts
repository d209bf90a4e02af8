/**
 * Orphans: snapshots of targets that are no longer in the config (renamed or removed). Prune never
 * decides about them with a policy: they are reported and kept, until the operator asks for their
 * removal explicitly (`haven prune --orphans`); even then Object Lock is honoured and each snapshot
 * goes manifest first. Folders without a manifest are not orphans but leftovers (maintenance's job).
 *
 * A sweeping `--orphans` (no target named) also keeps an orphan whose newest snapshot is younger than
 * RECENT_ORPHAN_MS: a target really removed from the config gets no new snapshots, while one that
 * still does is most likely someone's live target (a wrong `-c`, another installation sharing the
 * bucket). Naming the target removes it anyway.
 */
import type { Logger } from "pino";
import { layout, snapshotIdTime } from "../catalog/layout";
import type { HavenConfig } from "../config/types";
import { isHavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import type { StorageBackend } from "../storage/types";
import type { WithLock } from "./execute";
import { listSnapshotFolders, type SnapshotFolder } from "./inventory";
import { snapshotLock, type LockedSnapshot } from "./locks";
import { RemovalError, removeSnapshot, type PruneFailure } from "./remove";

export const RECENT_ORPHAN_MS = 7 * 24 * 3600_000;

/** The snapshots of one orphan target on one destination. */
export interface OrphanTarget {
  readonly destination: string;
  readonly target: string;
  /** Its snapshot folders that have a manifest, oldest first. */
  readonly snapshots: readonly SnapshotFolder[];
}

/** Orphan targets on `storage`: the whole destination, or only the target named `only`. */
export async function findOrphans(
  config: HavenConfig,
  storage: StorageBackend,
  only?: string,
): Promise<OrphanTarget[]> {
  const folders = await listSnapshotFolders(storage, only === undefined ? "" : layout.targetPrefix(only));
  const byTarget = new Map<string, SnapshotFolder[]>();
  for (const folder of folders.values()) {
    if (folder.manifestKey === null || Object.hasOwn(config.targets, folder.target)) continue;
    byTarget.set(folder.target, [...(byTarget.get(folder.target) ?? []), folder]);
  }
  return [...byTarget].map(([target, snapshots]) => ({
    destination: storage.name,
    target,
    snapshots: [...snapshots].sort((a, b) => a.id.localeCompare(b.id)),
  }));
}

/** What happened to one orphan target on one destination. */
export interface OrphanOutcome {
  readonly destination: string;
  readonly target: string;
  /** Its snapshot ids, oldest first. */
  readonly snapshots: readonly string[];
  /** keep: reported only (no --orphans); remove: removal asked for (done unless dry run). */
  readonly action: "keep" | "remove";
  /** Why a removal asked for was not done (a recent orphan, see the module comment). */
  readonly keptBecause?: string;
  readonly removed: readonly string[];
  readonly locked: readonly LockedSnapshot[];
  readonly failed: readonly PruneFailure[];
}

export interface PruneOrphansOptions {
  /** Remove orphans (`--orphans`); otherwise they are only reported. */
  remove: boolean;
  /** With `remove`: say what would be removed (locks included), remove nothing. */
  dryRun: boolean;
  /** Needed to remove: orphans are removed under their (former) target's lock. */
  withLock?: WithLock;
  now: Date;
  /** Only this target name. */
  only?: string;
  logger?: Logger;
}

/** Reports (and with `remove`, removes) the orphan snapshots on `storage`. */
export async function pruneOrphans(
  config: HavenConfig,
  storage: StorageBackend,
  options: PruneOrphansOptions,
): Promise<OrphanOutcome[]> {
  const logger = (options.logger ?? silentLogger).child({ destination: storage.name });
  const outcomes: OrphanOutcome[] = [];
  for (const orphan of await findOrphans(config, storage, options.only)) {
    const base = {
      destination: storage.name,
      target: orphan.target,
      snapshots: orphan.snapshots.map((s) => s.id),
    };
    if (!options.remove) {
      logger.warn(
        { target: orphan.target, snapshots: orphan.snapshots.length },
        "snapshots of a target that is not in the config; kept (remove them with haven prune --orphans)",
      );
      outcomes.push({ ...base, action: "keep", removed: [], locked: [], failed: [] });
      continue;
    }
    const newest = orphan.snapshots.at(-1);
    if (options.only === undefined && newest && isRecent(newest.id, options.now)) {
      const keptBecause =
        `its newest snapshot, ${newest.id}, is less than ${RECENT_ORPHAN_MS / (24 * 3600_000)} days old: ` +
        `is another config or installation still backing it up? To remove it anyway: haven prune ${orphan.target} --orphans`;
      logger.warn({ target: orphan.target }, `orphan target kept: ${keptBecause}`);
      outcomes.push({ ...base, action: "keep", keptBecause, removed: [], locked: [], failed: [] });
      continue;
    }
    if (options.dryRun) {
      const { locked } = await splitLocked(storage, orphan.snapshots, options.now);
      outcomes.push({ ...base, action: "remove", removed: [], locked, failed: [] });
      continue;
    }
    if (!options.withLock) throw new Error("pruneOrphans: removing orphans needs withLock");
    outcomes.push(
      await options.withLock(orphan.target, async (signal) => {
        // Listed again under the lock: what is there now is what gets removed.
        const [current] = await findOrphans(config, storage, orphan.target);
        const { locked, free } = await splitLocked(storage, current?.snapshots ?? [], options.now);
        const removed: string[] = [];
        const failed: PruneFailure[] = [];
        for (const folder of free) {
          signal.throwIfAborted();
          try {
            await removeSnapshot(storage, folder, { keepRecord: false });
            removed.push(folder.id);
            logger.info({ target: orphan.target, snapshot: folder.id }, "orphan snapshot removed");
          } catch (error) {
            if (!(error instanceof RemovalError)) throw error;
            failed.push(error.toFailure());
            if (isHavenError(error, "TRANSIENT")) break;
          }
        }
        // Every snapshot gone: the target's pruned records (its history) go with it.
        if (locked.length === 0 && failed.length === 0) {
          await removePrunedRecords(storage, orphan.target).catch((error: unknown) =>
            logger.warn(
              { target: orphan.target, err: error instanceof Error ? error.message : String(error) },
              `the pruned records of ${orphan.target} (${layout.prunedPrefix(orphan.target)}) were not removed; delete them by hand if the target's history must go`,
            ),
          );
        }
        return { ...base, action: "remove" as const, removed, locked, failed };
      }),
    );
  }
  return outcomes;
}

async function removePrunedRecords(storage: StorageBackend, target: string): Promise<void> {
  const keys: string[] = [];
  for await (const object of storage.list(layout.prunedPrefix(target))) keys.push(object.key);
  if (keys.length > 0) await storage.remove(keys);
}

function isRecent(id: string, now: Date): boolean {
  return now.getTime() - snapshotIdTime(id).getTime() < RECENT_ORPHAN_MS;
}

async function splitLocked(
  storage: StorageBackend,
  folders: readonly SnapshotFolder[],
  now: Date,
): Promise<{ locked: LockedSnapshot[]; free: SnapshotFolder[] }> {
  const locked: LockedSnapshot[] = [];
  const free: SnapshotFolder[] = [];
  for (const folder of folders) {
    const lock = await snapshotLock(storage, folder, now);
    if (lock) locked.push({ id: folder.id, ...lock });
    else free.push(folder);
  }
  return { locked, free };
}
