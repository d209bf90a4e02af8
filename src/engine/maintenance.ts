/**
 * Removes what failed or killed runs left behind: objects of a snapshot folder that has no manifest,
 * and uploads never completed, once they are older than the grace period. Age alone does not tell a
 * run in progress: a backup of several terabytes outlives the grace period, and S3 dates an upload
 * (and the object it completes into) from its start. So a target whose lock is held (`busy`) keeps
 * all of it. Committed snapshots and the objects of Haven's own areas (`_audit/`, `_reports/`) are
 * never touched, nor anything outside the layout, uploads included.
 *
 * The listing is a picture of the past: a run may commit its manifest and release its lock after the
 * folder was listed without one (and a copy between destinations holds no lock at all). So right
 * before a folder's objects are removed, its manifest is looked for again; one that has appeared
 * keeps the folder.
 */
import type { Logger } from "pino";
import { layout, parseSnapshotKey } from "../catalog/layout";
import type { StorageBackend } from "../storage/types";

export interface CleanupReport {
  removedObjects: string[];
  abortedUploads: string[];
  keptYoung: number;
  /** Objects and uploads kept because a run of their target holds its lock. */
  keptBusy: number;
  /** Objects kept because their manifest appeared after the listing: the run committed meanwhile. */
  keptCommitted: number;
}

export interface CleanupOptions {
  graceMs: number;
  now: Date;
  logger: Logger;
  dryRun?: boolean;
  /** True while a run of `target` holds its lock; without it, age alone decides. */
  busy?: (target: string) => Promise<boolean>;
}

export async function cleanupLeftovers(
  storage: StorageBackend,
  options: CleanupOptions,
): Promise<CleanupReport> {
  const cutoff = options.now.getTime() - options.graceMs;
  const busyTargets = new Map<string, Promise<boolean>>();
  const busy = (target: string): Promise<boolean> => {
    if (!options.busy) return Promise.resolve(false);
    if (!busyTargets.has(target)) busyTargets.set(target, options.busy(target));
    return busyTargets.get(target)!;
  };
  const folders = new Map<
    string,
    { target: string; id: string; hasManifest: boolean; keys: string[]; newest: number }
  >();
  for await (const object of storage.list("")) {
    const parsed = parseSnapshotKey(object.key);
    if (!parsed) continue;
    const folderKey = `${parsed.target}/${parsed.id}`;
    const folder = folders.get(folderKey) ?? {
      target: parsed.target,
      id: parsed.id,
      hasManifest: false,
      keys: [],
      newest: 0,
    };
    if (parsed.rest === "manifest.json") folder.hasManifest = true;
    folder.keys.push(object.key);
    folder.newest = Math.max(folder.newest, object.lastModified.getTime());
    folders.set(folderKey, folder);
  }
  const report: CleanupReport = {
    removedObjects: [],
    abortedUploads: [],
    keptYoung: 0,
    keptBusy: 0,
    keptCommitted: 0,
  };
  for (const [folderKey, folder] of folders) {
    if (folder.hasManifest) continue;
    if (folder.newest > cutoff) {
      report.keptYoung += folder.keys.length;
      continue;
    }
    if (await busy(folder.target)) {
      report.keptBusy += folder.keys.length;
      continue;
    }
    if (await storage.stat(layout.manifest(folder.target, folder.id))) {
      report.keptCommitted += folder.keys.length;
      continue;
    }
    options.logger.info(
      { snapshot: folderKey, objects: folder.keys.length },
      "removing leftovers of an incomplete run",
    );
    if (!options.dryRun) await storage.remove(folder.keys);
    report.removedObjects.push(...folder.keys);
  }
  for await (const upload of storage.listIncomplete("")) {
    if (upload.startedAt.getTime() > cutoff) continue;
    // An upload outside the layout is not ours to judge: in a bucket shared with a nested destination
    // (prefix "site-b/") it is that destination's, whose target lock this pass cannot see, and S3 dates
    // an upload from its start, so a long backup there looked abandoned.
    const target = parseSnapshotKey(upload.key)?.target;
    if (target === undefined && !layout.isReserved(upload.key.split("/", 1)[0] ?? "")) continue;
    if (target !== undefined && (await busy(target))) {
      report.keptBusy += 1;
      continue;
    }
    options.logger.info({ key: upload.key, startedAt: upload.startedAt }, "aborting an incomplete upload");
    if (!options.dryRun) await storage.abortIncomplete(upload);
    report.abortedUploads.push(upload.key);
  }
  return report;
}
