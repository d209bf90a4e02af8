/**
 * Which snapshots still have to be copied: those on a target's first destination (where backups
 * commit) whose manifest is missing on one of its other destinations, and that the receiving
 * destination's own retention would keep. The last condition matters when a destination keeps fewer
 * snapshots than the primary (`destinations.<name>.retention`): a snapshot pruned there is not copied
 * back again and again, and a backlog after an outage copies only what that destination keeps.
 */
import type { Logger } from "pino";
import { layout } from "../catalog/layout";
import type { HavenConfig, TargetConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import { readCandidates } from "../prune/candidates";
import { listSnapshotFolders } from "../prune/inventory";
import { configuredTarget, retentionOn } from "../prune/policy";
import { applyRetention, type RetentionCandidate } from "../retention";
import { createStorage } from "../storage";
import type { StorageBackend } from "../storage/types";

/** One snapshot to copy. */
export interface PendingCopy {
  target: string;
  snapshotId: string;
  /** Destination names: the target's first destination, and one of the others. */
  from: string;
  to: string;
}

/** The snapshots of a target on its primary destination, as retention sees them, keyed by id. */
export async function primarySnapshots(
  storage: StorageBackend,
  target: string,
  logger: Logger = silentLogger,
): Promise<Map<string, RetentionCandidate>> {
  const folders = await listSnapshotFolders(storage, layout.targetPrefix(target));
  // Every primary candidate is seen through asCopy, which drops the verdicts: not read.
  const { snapshots, unreadable } = await readCandidates(storage, [...folders.values()], logger, {
    verdicts: false,
  });
  for (const { id, error } of unreadable) {
    logger.warn(
      { target, snapshot: id, err: error },
      "manifest unreadable on the primary destination; not copied",
    );
  }
  return new Map(snapshots.map(({ candidate }) => [candidate.id, candidate]));
}

/**
 * The snapshots of `target` that `to` lacks and its retention keeps, newest first (the newest is the
 * most valuable recovery point). `primary` comes from `primarySnapshots`. Throws what listing `to` throws.
 */
export async function pendingOn(
  config: HavenConfig,
  target: TargetConfig,
  primary: ReadonlyMap<string, RetentionCandidate>,
  from: string,
  to: StorageBackend,
  now: Date,
  logger: Logger = silentLogger,
): Promise<PendingCopy[]> {
  const folders = await listSnapshotFolders(to, layout.targetPrefix(target.name));
  const present = [...folders.values()].filter((folder) => folder.manifestKey !== null);
  const presentIds = new Set(present.map((folder) => folder.id));
  // Nothing owed (the steady state of every hourly run): no manifest of `to` needs reading.
  const missing = [...primary.values()].filter((candidate) => !presentIds.has(candidate.id));
  if (missing.length === 0) return [];
  // Copies are byte-identical, so the primary's manifest stands for a copy; read on `to` are the
  // snapshots the primary no longer has and those verified there. A copy proven damaged there fills
  // no period on `to` (its prune sees it so), so a good snapshot of that period is still owed.
  const readThere = await readCandidates(
    to,
    present.filter((folder) => !primary.has(folder.id) || folder.verificationKeys.length > 0),
    logger,
  );
  const readIds = new Set(readThere.snapshots.map((s) => s.candidate.id));
  const there = [
    ...present.flatMap((folder) => {
      const candidate = readIds.has(folder.id) ? undefined : primary.get(folder.id);
      return candidate ? [asCopy(candidate)] : [];
    }),
    ...readThere.snapshots.map((s) => s.candidate),
  ];

  const decision = applyRetention(
    [...there, ...missing.map(asCopy)],
    retentionOn(config, target, to.name),
    now,
    { timezone: config.timezone },
  );
  const missingIds = new Set(missing.map((candidate) => candidate.id));
  return decision.keep
    .filter((entry) => missingIds.has(entry.snapshot.id))
    .map((entry) => ({ target: target.name, snapshotId: entry.snapshot.id, from, to: to.name }));
}

/**
 * A primary snapshot as it will be seen on another destination: verification records stay with the
 * copy that was verified, so the receiving destination's prune will not see them.
 */
function asCopy(candidate: RetentionCandidate): RetentionCandidate {
  const { verifiedOk: _verifiedOnPrimary, damaged: _damagedOnPrimary, ...copy } = candidate;
  return copy;
}

export interface PendingCopiesOptions {
  /** Opens a destination's storage (closed by the call). Default `createStorage` of the config's destination. */
  openStorage?: (destination: string) => StorageBackend;
  now?: Date;
  logger?: Logger;
}

/** Every pending copy of `target`, to each of its destinations after the first. Throws the first read failure. */
export async function pendingCopies(
  config: HavenConfig,
  target: string,
  options: PendingCopiesOptions = {},
): Promise<PendingCopy[]> {
  const targetConfig = configuredTarget(config, target);
  const [primaryName, ...others] = targetConfig.destinations;
  if (primaryName === undefined) throw new HavenError("CONFIG", `target ${target} has no destination`);
  const now = options.now ?? new Date();
  const logger = options.logger ?? silentLogger;
  const opened: StorageBackend[] = [];
  const open = (name: string) => {
    const storage = (options.openStorage ?? ((n: string) => storageOf(config, n, logger)))(name);
    opened.push(storage);
    return storage;
  };
  try {
    const primary = await primarySnapshots(open(primaryName), target, logger);
    const pending: PendingCopy[] = [];
    for (const name of others) {
      pending.push(...(await pendingOn(config, targetConfig, primary, primaryName, open(name), now, logger)));
    }
    return pending;
  } finally {
    await Promise.allSettled(opened.map((storage) => storage.close()));
  }
}

/**
 * The primary's snapshots that another destination of the target still needs: it lacks them and its
 * retention keeps them. Prune of the primary keeps these, so an off-site destination that was down for
 * longer than the primary's retention still receives what its own retention promises. A destination
 * that cannot be read counts as lacking every snapshot its retention would keep. Returns, per snapshot
 * id, the destinations waiting for it.
 */
export async function awaitedCopies(
  config: HavenConfig,
  target: TargetConfig,
  primary: ReadonlyMap<string, RetentionCandidate>,
  primaryName: string,
  open: (destination: string) => StorageBackend,
  now: Date,
  logger: Logger = silentLogger,
): Promise<Map<string, string[]>> {
  const awaited = new Map<string, string[]>();
  for (const name of target.destinations.filter((d) => d !== primaryName)) {
    let ids: string[];
    try {
      const pending = await pendingOn(config, target, primary, primaryName, open(name), now, logger);
      ids = pending.map((p) => p.snapshotId);
    } catch (error) {
      logger.warn(
        { target: target.name, destination: name, err: String(error) },
        "destination unreadable: the primary keeps every snapshot its retention would keep",
      );
      const decision = applyRetention(
        [...primary.values()].map(asCopy),
        retentionOn(config, target, name),
        now,
        { timezone: config.timezone },
      );
      ids = decision.keep.map((entry) => entry.snapshot.id);
    }
    for (const id of ids) awaited.set(id, [...(awaited.get(id) ?? []), name]);
  }
  return awaited;
}

/** The storage of the configured destination `name` (with the storage layer's default retries). */
export function storageOf(config: HavenConfig, name: string, logger: Logger): StorageBackend {
  const destination = config.destinations[name];
  if (!destination) throw new HavenError("CONFIG", `unknown destination "${name}" in ${config.source}`);
  return createStorage(destination, logger);
}
