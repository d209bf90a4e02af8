/**
 * Reads what RPO/RTO evaluation needs from a destination (the source of truth): every snapshot's
 * manifest and every verification record of one target. No Redis, no local state, so `haven status`
 * on a fresh install pointed at the bucket gives the same answer as the watchdog of a running `serve`.
 */
import { parseManifest } from "../catalog/catalog";
import { layout, parseSnapshotKey } from "../catalog/layout";
import type { Manifest } from "../catalog/manifest";
import { failedOnlyFreshness, provesSnapshotDamaged, saysNothingOfSnapshot } from "../verify/damage";
import { listPrunedKeys, parsePrunedRecord } from "../prune/evidence";
import { readTextIfPresent } from "../storage/read-text";
import type { StorageBackend } from "../storage/types";
import type { SnapshotPoint, VerificationPoint } from "./types";
import { mapLimit } from "../lib/map-limit";

export interface SloInputs {
  target: string;
  /** The destination read (its config name). */
  destination: string;
  /** Snapshots with a readable manifest, oldest first. */
  snapshots: SnapshotPoint[];
  /** Verification records of those snapshots, oldest first. */
  verifications: VerificationPoint[];
  /**
   * Verification records of snapshots retention has removed since (their pruned records, see
   * src/prune/evidence.ts), oldest first: their restore times are still measurements, and they show
   * the verify schedule ran. Only those of the last `PRUNED_WINDOW_MS`.
   */
  prunedVerifications: VerificationPoint[];
  /** Manifests or records that could not be read or parsed: reported, never hidden. */
  problems: string[];
  /**
   * The target has had a snapshot on this destination: a manifest (readable or not) or a pruned
   * record. Such a target is no new one: its RPO gets no grace from when it was first seen.
   */
  everBackedUp: boolean;
}

export interface LoadSloInputsOptions {
  /** Objects read at once. Default 16. */
  parallel?: number;
  /**
   * Parsed manifests and verification records by key. Both are write-once, so a cache shared between
   * runs (the watchdog runs every minute) saves reading them again; see `createSloCache`.
   */
  cache?: SloCache;
  /** The clock, for the window of pruned records read. Default: now. */
  now?: Date;
}

/** Pruned records of snapshots taken, or pruned, this long before now are read (restore-time trends). */
export const PRUNED_WINDOW_MS = 90 * 24 * 60 * 60 * 1000;

/** A bounded cache of parsed write-once objects, keyed by destination location and key. */
export class SloCache {
  readonly #entries = new Map<string, unknown>();

  constructor(readonly maxEntries = 20_000) {}

  get<T>(key: string): T | undefined {
    return this.#entries.get(key) as T | undefined;
  }

  set(key: string, value: unknown): void {
    // Oldest-inserted first out: enough for a working set that only grows by new snapshots.
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }
}

export function createSloCache(maxEntries?: number): SloCache {
  return new SloCache(maxEntries);
}

/**
 * Lists the target's folder once and reads its manifests and verification records with bounded
 * parallelism. Storage errors (unreachable, credentials) propagate: the caller reports
 * storage-unreachable. A record whose snapshot has no manifest (being pruned) is ignored.
 */
export async function loadSloInputs(
  storage: StorageBackend,
  target: string,
  options: LoadSloInputsOptions = {},
): Promise<SloInputs> {
  const manifestKeys: string[] = [];
  const recordKeys: Array<{ key: string; snapshotId: string }> = [];
  for await (const object of storage.list(layout.targetPrefix(target))) {
    const parsed = parseSnapshotKey(object.key);
    if (!parsed || parsed.target !== target) continue;
    if (parsed.rest === "manifest.json") manifestKeys.push(object.key);
    else if (parsed.rest.startsWith("verifications/") && parsed.rest.endsWith(".json")) {
      recordKeys.push({ key: object.key, snapshotId: parsed.id });
    }
  }

  const problems: string[] = [];
  /** `version` tells apart objects that may be rewritten (see the pruned records below). */
  const read = async <T>(
    key: string,
    parse: (raw: string, where: string) => T,
    version = "",
  ): Promise<T | undefined> => {
    const cacheKey = `${storage.location}|${key}|${version}`;
    const cached = options.cache?.get<T>(cacheKey);
    if (cached !== undefined) return cached;
    const where = `${storage.location}/${key}`;
    // Removed between the listing and the read (prune removes manifests first): it no longer exists.
    const raw = await readTextIfPresent(storage, key);
    if (raw === undefined) return undefined;
    try {
      const value = parse(raw, where);
      options.cache?.set(cacheKey, value);
      return value;
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  };

  const parallel = options.parallel ?? 16;
  const manifests = await mapLimit(manifestKeys, parallel, (key) => read(key, parseManifest));
  const snapshots = manifests.flatMap((m) => (m && m.target === target ? [snapshotPoint(m)] : []));
  const sizes = new Map(snapshots.map((s) => [s.id, s.plainSize]));

  const records = await mapLimit(
    recordKeys.filter((r) => sizes.has(r.snapshotId)),
    parallel,
    ({ key }) => read(key, parseVerificationRecord),
  );
  const verifications = records
    .flatMap((r) => (r ? [{ ...r, plainSize: sizes.get(r.snapshotId) as number }] : []))
    .sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime());

  const windowStart = (options.now ?? new Date()).getTime() - PRUNED_WINDOW_MS;
  // Only records holding verifications (most pruned snapshots were never verified), and cached by
  // version: a prune that had to try again rewrites its record.
  let prunedAny = false;
  const prunedKeys = await listPrunedKeys(storage, target, ({ snapshotTime, prunedAt, verified }) => {
    prunedAny = true;
    return verified && Math.max(snapshotTime.getTime(), prunedAt.getTime()) >= windowStart;
  });
  const pruned = await mapLimit(prunedKeys, parallel, ({ key, id, lastModified, size }) =>
    read(
      key,
      (raw, where) => prunedPoints(raw, where, { target, id, destination: storage.name }),
      `${lastModified.getTime()}:${size}`,
    ),
  );
  const prunedVerifications = pruned
    .flatMap((points) => points ?? [])
    .filter((v) => !sizes.has(v.snapshotId)) // still held: its live records are read already
    .sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime());

  return {
    target,
    destination: storage.name,
    snapshots: snapshots.sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime()),
    verifications,
    prunedVerifications,
    problems,
    everBackedUp: manifestKeys.length > 0 || prunedAny,
  };
}

/** The verification points of a pruned record, each with its snapshot's plain size. */
function prunedPoints(
  raw: string,
  where: string,
  expected: { target: string; id: string; destination: string },
): VerificationPoint[] {
  const evidence = parsePrunedRecord(raw, where, expected);
  const plainSize = snapshotPoint(evidence.manifest).plainSize as number;
  return evidence.verifications.flatMap((r) => {
    try {
      return [{ ...parseVerificationRecord(JSON.stringify(r), `${where} (verification)`), plainSize }];
    } catch {
      return []; // an unreadable record is no evidence
    }
  });
}

/** What the SLO and the report read of a manifest. */
export function snapshotPoint(manifest: Manifest): SnapshotPoint {
  return {
    id: manifest.id,
    startedAt: new Date(manifest.startedAt),
    finishedAt: new Date(manifest.finishedAt),
    state: manifest.state,
    tiers: manifest.tiers,
    plainSize: manifest.payload.reduce((sum, o) => sum + o.plainSize, 0),
    storedSize: manifest.payload.reduce((sum, o) => sum + o.size, 0),
  };
}

/**
 * Parses a verification record (src/verify/record.ts) into what evaluation reads. Throws with the
 * object's location when the record is not one Haven wrote.
 */
export function parseVerificationRecord(raw: string, where: string): VerificationPoint {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`verification record ${where} is not valid JSON`);
  }
  const r = json as Record<string, unknown> | null;
  const kind = r?.kind;
  const result = r?.result;
  const finishedAt = typeof r?.finishedAt === "string" ? new Date(r.finishedAt) : null;
  if (
    (kind !== "integrity" && kind !== "restore") ||
    (result !== "passed" && result !== "failed") ||
    typeof r?.snapshotId !== "string" ||
    typeof r.totalMs !== "number" ||
    !finishedAt ||
    Number.isNaN(finishedAt.getTime())
  ) {
    throw new Error(`verification record ${where} is malformed`);
  }
  const checks = Array.isArray(r.checks) ? (r.checks as Array<Record<string, unknown>>) : [];
  const failedChecks = checks.filter((c) => c?.ok === false).map(describeFailedCheck);
  const error = r.error as { code?: unknown; message?: unknown } | undefined;
  return {
    kind,
    result,
    snapshotId: r.snapshotId,
    finishedAt,
    totalMs: r.totalMs,
    failedChecks,
    damaged: provesSnapshotDamaged({ result, checks, error }),
    stale: failedOnlyFreshness({ result, checks, error }),
    inconclusive: saysNothingOfSnapshot({ result, checks, error }),
    ...(error && typeof error.message === "string"
      ? { error: { code: typeof error.code === "string" ? error.code : "UNKNOWN", message: error.message } }
      : {}),
  };
}

function describeFailedCheck(check: Record<string, unknown>): string {
  const name = typeof check.name === "string" ? check.name : "check";
  const parts = [name];
  if ("expected" in check) parts.push(`expected ${JSON.stringify(check.expected)}`);
  if ("actual" in check) parts.push(`actual ${JSON.stringify(check.actual)}`);
  if (typeof check.detail === "string") parts.push(check.detail);
  return parts.join(", ");
}
