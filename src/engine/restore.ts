/**
 * Restores one snapshot: find it on the destination (no Redis needed), read the main payload back
 * through verification, and hand the plain stream to the target adapter. The manifest alone says how.
 */
import type { Readable } from "node:stream";
import { findSnapshot, type SnapshotSelector } from "../catalog/catalog";
import { layout } from "../catalog/layout";
import { mainObject, type Manifest } from "../catalog/manifest";
import type { HavenConfig, TargetConfig } from "../config/types";
import { HavenError, isHavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import { readTextIfPresent } from "../storage/read-text";
import type { StorageBackend } from "../storage/types";
import { parseVerificationRecord } from "../slo/inputs";
import type { VerificationPoint } from "../slo/types";
import { damagedSnapshots } from "../verify/damage";
import { createAdapter } from "../targets";
import { collectingRun } from "../targets/run-context";
import type { RestoreDestination, RestoreStats } from "../targets/types";
import { storageFor, targetOrThrow } from "./backup";
import { openPlainStream } from "./read-payload";
import type { EngineContext } from "./types";

export interface RestoreRequest {
  target: string;
  snapshot?: string;
  at?: Date;
  /** Where to restore; `original` must have been consented to by the caller. */
  to: RestoreDestination;
  include?: string[];
  force?: boolean;
  /** Read from this destination instead of the target's primary one. */
  from?: string;
  /** Runs after the adapter's checks of the destination, before it writes (`RestoreOptions.beforeWrite`). */
  beforeWrite?: () => Promise<void>;
}

export interface RestoreResult {
  target: string;
  snapshotId: string;
  stats: RestoreStats;
  warnings: string[];
  seconds: number;
}

/**
 * The snapshot a restore means (`findSnapshot`), except that "the newest" (or the newest at `--at`)
 * is refused when its verifications proved it damaged: restoring it in place would overwrite good
 * data and then fail, or restore wrong content. `--snapshot ID` still takes it, on purpose.
 */
async function findRestorable(
  storage: StorageBackend,
  target: string,
  selector: SnapshotSelector,
): Promise<Manifest> {
  const manifest = await findSnapshot(storage, target, selector);
  if (selector.id) return manifest;
  const points: VerificationPoint[] = [];
  for await (const object of storage.list(layout.verificationsPrefix(target, manifest.id))) {
    const raw = await readTextIfPresent(storage, object.key);
    if (raw === undefined) continue;
    try {
      points.push(parseVerificationRecord(raw, object.key));
    } catch {
      // An unreadable record proves nothing either way.
    }
  }
  if (!damagedSnapshots(points).has(manifest.id)) return manifest;
  throw new HavenError(
    "INTEGRITY",
    `snapshot ${manifest.id} of ${target} is the newest one asked for, and its verification proved it damaged`,
    {
      hint: `restore an older snapshot with --snapshot ID (haven snapshots ${target} lists them, with their verification); --snapshot ${manifest.id} restores this one anyway`,
    },
  );
}

/**
 * `findRestorable` on the destination the restore reads. When that is the target's primary and the
 * snapshot cannot be had there (the bucket lost, unreachable or emptied, its newest manifest
 * damaged), the hint names the target's other destinations: in a disaster the copy is what is left,
 * and the primary's own hint (mount the share, check the name) does not say that `--from` reads it.
 */
async function findOn(
  storage: StorageBackend,
  config: HavenConfig,
  request: Pick<RestoreRequest, "target" | "snapshot" | "at" | "from">,
): Promise<Manifest> {
  const target = targetOrThrow(config, request.target);
  let manifest: Manifest;
  try {
    manifest = await findRestorable(storage, request.target, { id: request.snapshot, at: request.at });
  } catch (error) {
    const others = target.destinations.slice(1);
    if (
      request.from !== undefined ||
      others.length === 0 ||
      !isHavenError(error) ||
      error.code === "CANCELLED"
    ) {
      throw error;
    }
    const copies = others.map((name) => `--from ${name}`).join(" or ");
    throw new HavenError(error.code, error.message, {
      hint: `${error.hint ? `${error.hint}; ` : ""}copies may be on ${request.target}'s other destinations: restore with ${copies} (haven snapshots ${request.target} lists them all)`,
      exitCode: error.exitCode,
      cause: error,
    });
  }
  // Another adapter would read the payload as its own format and blame the snapshot (a SQLite
  // "integrity check" failing, a tar "unsafe archive"), or write it out as something it is not.
  if (manifest.targetType !== target.type) {
    throw new HavenError(
      "CONFIG",
      `snapshot ${manifest.id} of ${target.name} is a ${manifest.targetType} snapshot, but the config's ${target.name} is a ${target.type} target`,
      {
        hint: `restore it with a config whose ${target.name} has type: ${manifest.targetType}, or by hand with the recipe in its manifest.json ("restore")`,
      },
    );
  }
  return manifest;
}

export async function selectSnapshot(
  config: HavenConfig,
  request: Pick<RestoreRequest, "target" | "snapshot" | "at" | "from">,
  ctx: EngineContext,
): Promise<Manifest> {
  const storage = storageFor(config, request.target, request.from, ctx);
  try {
    return await findOn(storage, config, request);
  } finally {
    await storage.close();
  }
}

/**
 * Refuses `--include` for a target whose adapter restores only whole: a database adapter would
 * restore everything, over the live database when in place, while the operator asked for a part.
 */
export function assertIncludeSupported(target: TargetConfig, include: readonly string[] | undefined): void {
  if (include === undefined || include.length === 0) return;
  if (createAdapter(target, silentLogger).capabilities.partialRestore) return;
  throw new HavenError(
    "USAGE",
    `--include is for files targets; ${target.name} is a ${target.type} target, restored only whole`,
    {
      hint: `restore the whole snapshot into another place (--to) and copy out what you need${target.type === "postgres" ? ", or restore it to a file and use pg_restore -t TABLE" : ""}`,
    },
  );
}

export async function runRestore(
  config: HavenConfig,
  request: RestoreRequest,
  ctx: EngineContext,
): Promise<RestoreResult> {
  const target = targetOrThrow(config, request.target);
  assertIncludeSupported(target, request.include);
  const storage = storageFor(config, request.target, request.from, ctx);
  const started = Date.now();
  try {
    const manifest = await findOn(storage, config, request);
    const logger = ctx.logger.child({ target: target.name, snapshot: manifest.id });
    const { run, warnings } = collectingRun(ctx.signal, logger);
    const main = mainObject(manifest);
    const plain = await openPlainStream(storage, main, {
      encryption: config.encryption,
      signal: ctx.signal,
      storedCheck: "size",
      onStoredBytes: (bytes) => ctx.onProgress?.({ phase: "restore", bytes, total: main.size }),
    });
    const extra: Record<string, () => Promise<Readable>> = {};
    for (const object of manifest.payload) {
      if (object === main) continue;
      extra[object.stream] = async () =>
        (
          await openPlainStream(storage, object, {
            encryption: config.encryption,
            signal: ctx.signal,
            storedCheck: "size",
          })
        ).stream;
    }
    logger.info({ to: request.to, include: request.include }, "restore started");
    const adapter = createAdapter(target, logger);
    const stats = await bothSettled(
      adapter.restore(plain.stream, request.to, run, {
        include: request.include,
        force: request.force,
        extra,
        ...(request.beforeWrite ? { beforeWrite: request.beforeWrite } : {}),
      }),
      plain.finished,
    );
    const seconds = (Date.now() - started) / 1000;
    logger.info({ seconds, stats: { files: stats.files, bytes: stats.bytes } }, "restore finished");
    return { target: target.name, snapshotId: manifest.id, stats, warnings, seconds };
  } catch (error) {
    // Ctrl-C reaches the decompressor child too, whose death then looks like a source or destination
    // failure (EPIPE, "restore into … failed"): a cancelled run is CANCELLED (exit 130), whatever
    // broke on the way out.
    if (ctx.signal.aborted && !isHavenError(error, "CANCELLED")) {
      throw new HavenError("CANCELLED", "the restore was cancelled", {
        cause: error,
        hint: "what was written so far stays in place: restore again with --force over it, or remove it",
      });
    }
    throw error;
  } finally {
    await storage.close();
  }
}

/**
 * Waits for the adapter and the plain stream both, then throws the failure that came first (a
 * damaged or cut-off input fails the stream before the adapter notices). Returning at the first
 * failure, as `Promise.all` does, lost what the adapter then said about the destination (a MySQL
 * schema now partly replaced) and let the command exit while the adapter was still cleaning up
 * (dropping the database it created). The adapter's error wins when it carries the first failure as
 * its cause: it says the same, and what the failure left behind.
 */
async function bothSettled(restore: Promise<RestoreStats>, input: Promise<void>): Promise<RestoreStats> {
  let first: { error: unknown } | undefined;
  const noteFirst = (error: unknown) => {
    first ??= { error };
    throw error;
  };
  const [restored] = await Promise.allSettled([restore.catch(noteFirst), input.catch(noteFirst)]);
  if (first === undefined && restored.status === "fulfilled") return restored.value;
  const cause = first?.error;
  if (restored.status === "rejected" && carries(restored.reason, cause)) throw restored.reason;
  throw cause;
}

function carries(error: unknown, cause: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) if (e === cause) return true;
  return false;
}
