/**
 * Snapshots as retention sees them, read from the destination alone: the manifest gives the time,
 * tiers and state; the newest verification record says whether the latest check passed, and all of
 * them whether the snapshot is proven damaged (as the RPO decides it, `verify/damage.ts`).
 *
 * A read that fails for a reason that may pass (network, throttling, credentials) fails the whole
 * plan: deciding on a partial view could shift periods and guard rails. A manifest that is malformed
 * or from a newer Haven is reported as unreadable and its snapshot is kept, never removed.
 */
import type { Logger } from "pino";
import { readManifest } from "../catalog/catalog";
import { isHavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import type { RetentionCandidate } from "../retention";
import { readTextIfPresent } from "../storage/read-text";
import type { StorageBackend } from "../storage/types";
import type { SnapshotFolder } from "./inventory";
import { mapLimit, PARALLEL_REQUESTS } from "../lib/map-limit";
import { parseVerificationRecord } from "../slo/inputs";
import { damagedSnapshots, type ConclusiveInput } from "../verify/damage";

/** A snapshot whose manifest could not be understood: kept, and shown to the operator. */
export interface UnreadableSnapshot {
  readonly id: string;
  readonly error: string;
}

export interface Candidates {
  /** One per readable manifest, with its folder. */
  readonly snapshots: ReadonlyArray<{
    readonly candidate: RetentionCandidate;
    readonly folder: SnapshotFolder;
  }>;
  readonly unreadable: readonly UnreadableSnapshot[];
}

/** Reads the manifest and the newest verification record of every folder that has a manifest. */
export async function readCandidates(
  storage: StorageBackend,
  folders: readonly SnapshotFolder[],
  logger: Logger = silentLogger,
  /** false: manifests only, for a reader that drops the verdicts (a copy's view of the primary). */
  options: { verdicts?: boolean } = {},
): Promise<Candidates> {
  const committed = folders.filter((folder) => folder.manifestKey !== null);
  type Read =
    | { kind: "candidate"; folder: SnapshotFolder; candidate: RetentionCandidate }
    | { kind: "unreadable"; folder: SnapshotFolder; error: string }
    | null;
  const read = await mapLimit(committed, PARALLEL_REQUESTS, async (folder): Promise<Read> => {
    const manifest = await readManifest(storage, folder.target, folder.id).catch((error: unknown) => {
      if (isHavenError(error, "NOT_FOUND")) return null; // removed since the listing: nothing to decide
      if (isHavenError(error, "INTEGRITY") || isHavenError(error, "PERMANENT")) {
        return { unreadable: (error as Error).message };
      }
      throw error;
    });
    if (manifest === null) return null;
    if ("unreadable" in manifest) return { kind: "unreadable", folder, error: manifest.unreadable };
    const verdict =
      options.verdicts === false ? { damaged: false } : await verificationVerdict(storage, folder, logger);
    const candidate: RetentionCandidate = {
      id: folder.id,
      createdAt: new Date(manifest.startedAt),
      tiers: manifest.tiers,
      state: manifest.state,
      ...verifiedField(verdict.latestPassed),
      ...(verdict.damaged ? { damaged: true } : {}),
    };
    return { kind: "candidate", folder, candidate };
  });

  const snapshots: Array<{ candidate: RetentionCandidate; folder: SnapshotFolder }> = [];
  const unreadable: UnreadableSnapshot[] = [];
  for (const entry of read) {
    if (entry?.kind === "candidate") snapshots.push({ candidate: entry.candidate, folder: entry.folder });
    else if (entry?.kind === "unreadable") unreadable.push({ id: entry.folder.id, error: entry.error });
  }
  return { snapshots, unreadable };
}

function verifiedField(passed: boolean | undefined): { verifiedOk?: boolean } {
  return passed === undefined ? {} : { verifiedOk: passed };
}

/**
 * Whether the newest verification record of the folder that says something of the snapshot passed
 * (undefined without one), and whether its records prove the snapshot damaged. A failure on the
 * verifier's own situation (a wrong identity file, the network) is skipped: it must not take the
 * "newest verified" guard rail from a snapshot a restore test proved. A record that is not valid JSON
 * counts as not passed (it protects nothing) and proves nothing, with a warning.
 */
async function verificationVerdict(
  storage: StorageBackend,
  folder: SnapshotFolder,
  logger: Logger,
): Promise<{ latestPassed?: boolean; damaged: boolean }> {
  const raws = await mapLimit(folder.verificationKeys, RECORD_READS_PER_FOLDER, (key) =>
    readTextIfPresent(storage, key),
  );
  const points: ConclusiveInput[] = [];
  let latestPassed: boolean | undefined;
  raws.forEach((raw, index) => {
    if (raw === undefined) return;
    const key = folder.verificationKeys[index] as string;
    try {
      const point = parseVerificationRecord(raw, key);
      points.push(point);
      if (!point.inconclusive) latestPassed = point.result === "passed";
    } catch {
      logger.warn({ key, destination: storage.name }, "verification record is unreadable; ignored");
      latestPassed = false;
    }
  });
  return { latestPassed, damaged: damagedSnapshots(points).has(folder.id) };
}

/** Records read at once per folder (folders are read PARALLEL_REQUESTS at a time). */
const RECORD_READS_PER_FOLDER = 4;
