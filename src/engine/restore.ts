/**
 * Restores one snapshot: find it on the destination (no Redis needed), read the main payload back
 * through verification, and hand the plain stream to the target adapter. The manifest alone says how.
 */
import type { Readable } from "node:stream";
import { findSnapshot } from "../catalog/catalog";
import { mainObject, type Manifest } from "../catalog/manifest";
import type { HavenConfig, TargetConfig } from "../config/types";
import { HavenError, isHavenError } from "../lib/errors";
import { silentLogger } from "../lib/logger";
import { createStorage } from "../storage";
import type { StorageBackend } from "../storage/types";
import { createAdapter } from "../targets";
import type { RestoreDestination, RestoreStats, RunContext } from "../targets/types";
import { primaryStorage, targetOrThrow } from "./backup";
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
}

export interface RestoreResult {
  target: string;
  snapshotId: string;
  stats: RestoreStats;
  warnings: string[];
  seconds: number;
}

export function storageFor(
  config: HavenConfig,
  target: string,
  from: string | undefined,
  ctx: EngineContext,
): StorageBackend {
  const targetConfig = targetOrThrow(config, target);
  if (!from) return primaryStorage(config, targetConfig, ctx);
  const destination = config.destinations[from];
  if (!destination) {
    throw new HavenError("USAGE", `no destination named "${from}"`, {
      hint: `known destinations: ${Object.keys(config.destinations).join(", ")}`,
    });
  }
  return createStorage(destination, ctx.logger);
}

export async function selectSnapshot(
  config: HavenConfig,
  request: Pick<RestoreRequest, "target" | "snapshot" | "at" | "from">,
  ctx: EngineContext,
): Promise<Manifest> {
  const storage = storageFor(config, request.target, request.from, ctx);
  try {
    return await findSnapshot(storage, request.target, { id: request.snapshot, at: request.at });
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
    const manifest = await findSnapshot(storage, target.name, { id: request.snapshot, at: request.at });
    const logger = ctx.logger.child({ target: target.name, snapshot: manifest.id });
    const warnings: string[] = [];
    const run: RunContext = {
      signal: ctx.signal,
      logger,
      warn(message, detail) {
        warnings.push(message);
        logger.warn(detail ?? {}, message);
      },
    };
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
    const [stats] = await Promise.all([
      adapter.restore(plain.stream, request.to, run, {
        include: request.include,
        force: request.force,
        extra,
      }),
      plain.finished,
    ]);
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
