/**
 * Removes what failed or killed runs left behind: objects of a snapshot folder that has no manifest,
 * and uploads never completed, once they are older than the grace period (a run still in progress
 * is younger than that). Committed snapshots, Haven's own areas (`_audit/`, `_reports/`) and keys
 * outside the layout are never touched.
 */
import type { Logger } from "pino";
import { parseSnapshotKey } from "../catalog/layout";
import type { StorageBackend } from "../storage/types";

export interface CleanupReport {
  removedObjects: string[];
  abortedUploads: string[];
  keptYoung: number;
}

export async function cleanupLeftovers(
  storage: StorageBackend,
  options: { graceMs: number; now: Date; logger: Logger; dryRun?: boolean },
): Promise<CleanupReport> {
  const cutoff = options.now.getTime() - options.graceMs;
  const folders = new Map<string, { hasManifest: boolean; keys: string[]; newest: number }>();
  for await (const object of storage.list("")) {
    const parsed = parseSnapshotKey(object.key);
    if (!parsed) continue;
    const folderKey = `${parsed.target}/${parsed.id}`;
    const folder = folders.get(folderKey) ?? { hasManifest: false, keys: [], newest: 0 };
    if (parsed.rest === "manifest.json") folder.hasManifest = true;
    folder.keys.push(object.key);
    folder.newest = Math.max(folder.newest, object.lastModified.getTime());
    folders.set(folderKey, folder);
  }
  const report: CleanupReport = { removedObjects: [], abortedUploads: [], keptYoung: 0 };
  for (const [folderKey, folder] of folders) {
    if (folder.hasManifest) continue;
    if (folder.newest > cutoff) {
      report.keptYoung += folder.keys.length;
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
    options.logger.info({ key: upload.key, startedAt: upload.startedAt }, "aborting an incomplete upload");
    if (!options.dryRun) await storage.abortIncomplete(upload);
    report.abortedUploads.push(upload.key);
  }
  return report;
}
