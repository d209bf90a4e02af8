/**
 * One backup run of one target, in phases: probe → before hook → stream payloads (data first) →
 * settle the producer → manifest last (create-only) → after hook. A run that fails at any phase
 * writes no manifest, so nothing becomes visible; the objects it did write are removed best effort
 * here and, if this process dies, by maintenance after a grace period.
 */
import { hostname } from "node:os";
import { listSnapshotRefs, readManifest } from "../catalog/catalog";
import { layout, newSnapshotId } from "../catalog/layout";
import { MANIFEST_FORMAT_VERSION, type Manifest, type StoredObject } from "../catalog/manifest";
import { assertPayloadPresent } from "../catalog/payload-present";
import type { HavenConfig, NamedDestination, TargetConfig } from "../config/types";
import { HavenError, isHavenError } from "../lib/errors";
import { havenVersion } from "../lib/version";
import { createStorage } from "../storage";
import type { StorageBackend } from "../storage/types";
import { runHook } from "../targets/hooks";
import { isReaderClosedError } from "../targets/reader-closed";
import { collectingRun } from "../targets/run-context";
import { createAdapter } from "../targets";
import type { TargetAdapter } from "../targets/types";
import { snapshotRetainUntil } from "../copy/object-lock";
import { commitManifest, ManifestOutcomeUnknown } from "./commit-manifest";
import { encryptionPlan } from "./encryption";
import { storePayload } from "./store-payload";
import type { BackupRequest, BackupResult, EngineContext } from "./types";

export function targetOrThrow(config: HavenConfig, name: string): TargetConfig {
  const target = config.targets[name];
  if (!target) {
    const known = Object.keys(config.targets).join(", ") || "none";
    throw new HavenError("NOT_FOUND", `no target named "${name}" in ${config.source}`, {
      hint: `known targets: ${known}`,
      exitCode: 2,
    });
  }
  return target;
}

/** The destination a target's snapshots are committed to first; copies go to the others. */
export function primaryStorage(
  config: HavenConfig,
  target: TargetConfig,
  ctx: EngineContext,
): StorageBackend {
  const name = target.destinations[0] as string;
  const destination = config.destinations[name];
  if (!destination) throw new HavenError("CONFIG", `target ${target.name}: unknown destination "${name}"`);
  return createStorage(destination, ctx.logger);
}

/** The destination a command reads: `from` when given (a copy, in a disaster), else the target's primary. */
export function storageFor(
  config: HavenConfig,
  target: string,
  from: string | undefined,
  ctx: EngineContext,
): StorageBackend {
  const targetConfig = targetOrThrow(config, target);
  if (!from) return primaryStorage(config, targetConfig, ctx);
  return createStorage(destinationOrThrow(config, from), ctx.logger);
}

/** The destination `--from NAME` names; a name the config lacks is a usage error listing the known ones. */
export function destinationOrThrow(config: HavenConfig, name: string): NamedDestination {
  const destination = config.destinations[name];
  if (!destination) {
    throw new HavenError("USAGE", `no destination named "${name}"`, {
      hint: `known destinations: ${Object.keys(config.destinations).join(", ")}`,
    });
  }
  return destination;
}

export async function runBackup(
  config: HavenConfig,
  request: BackupRequest,
  ctx: EngineContext,
): Promise<BackupResult> {
  const target = targetOrThrow(config, request.target);
  const storage = primaryStorage(config, target, ctx);
  try {
    return await backupTo(storage, config, target, request, ctx);
  } finally {
    await storage.close();
  }
}

/** A backup to one given backend (runBackup's work; tests give a backend that injects faults). */
export async function backupTo(
  storage: StorageBackend,
  config: HavenConfig,
  target: TargetConfig,
  request: BackupRequest,
  ctx: EngineContext,
): Promise<BackupResult> {
  const startedAt = new Date();
  const id = newSnapshotId(startedAt);
  const logger = ctx.logger.child({ target: target.name, snapshot: id, tier: request.tier });
  const { run, warnings } = collectingRun(ctx.signal, logger);
  const adapter = createAdapter(target, logger);
  const written: string[] = [];
  const result = (state: BackupResult["state"], extra: Partial<BackupResult> = {}): BackupResult => ({
    target: target.name,
    state,
    destinations: [],
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    warnings,
    ...extra,
  });

  let hookFailed: unknown;
  // The after hook resumes what `before` paused, so it runs once the run got as far as `before`
  // (whatever happened then), never after a failed probe: nothing was paused, and an after hook
  // that restarts a service or remounts a share would act on a system the run never touched.
  let hooksReached = false;
  // Read while the probe runs (a LIST and a GET on S3), unless a before hook may still have to prepare
  // the destination (mount a share); a probe failure is the error worth reporting.
  const sizesDuringProbe = target.hooks?.before ? undefined : previousObjectSizes(storage, target.name);
  sizesDuringProbe?.catch(() => undefined);
  try {
    await probeOrThrow(adapter, ctx.signal);
    hooksReached = true;
    if (target.hooks?.before) {
      await runHook(target.hooks.before, {
        timeoutMs: target.hooks.timeout,
        signal: ctx.signal,
        logger,
        name: "before",
        env: { HAVEN_TARGET: target.name, HAVEN_SNAPSHOT: id },
      });
    }
    logger.info({ destination: storage.name, location: storage.location }, "backup started");

    const encryption = encryptionPlan(config.encryption);
    const retainUntil = snapshotRetainUntil(config, target.name, storage.name, startedAt);
    const previousSizes = await (sizesDuringProbe ?? previousObjectSizes(storage, target.name));
    const store = (payload: Parameters<typeof storePayload>[0], onPlainBytes?: (n: number) => void) =>
      storePayload(payload, {
        storage,
        keyFor: (fileName) => {
          const key = layout.payload(target.name, id, fileName);
          written.push(key);
          return key;
        },
        compression: target.compression,
        encryption,
        signal: ctx.signal,
        onPlainBytes,
        retainUntil,
        // Data grows: twice the last size leaves room before the part-count limit bites.
        expectedSize: (previousSizes.get(payload.name) ?? 0) * 2 || undefined,
      });

    const stream = await adapter.backup(run);
    const objects: StoredObject[] = [];
    // The producer's fate is settled before anything is committed (HOUSE_STYLE 7).
    const producerDone = stream.done;
    producerDone.catch(() => undefined);
    objects.push(
      await store(stream.main, (bytes) => ctx.onProgress?.({ phase: "backup", bytes })).catch(
        async (error: unknown) => {
          // A failed upload may be the symptom; the producer's own error is the cause worth reporting,
          // unless it only says that the upload closed its stream (src/targets/reader-closed.ts).
          throw await producerDone.then(
            () => error,
            (sourceError: unknown) => (isReaderClosedError(sourceError) ? error : sourceError),
          );
        },
      ),
    );
    for (const extra of (await stream.after?.()) ?? []) objects.push(await store(extra));
    const stats = await producerDone;
    ctx.signal.throwIfAborted();

    const finishedAt = new Date();
    const { source, ...restStats } = stats;
    const manifest: Manifest = {
      formatVersion: MANIFEST_FORMAT_VERSION,
      id,
      target: target.name,
      targetType: target.type,
      tiers: [request.tier],
      state: warnings.length > 0 ? "partial" : "committed",
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      source: { host: hostname(), ...(source ?? {}) },
      payload: objects,
      stats: restStats,
      warnings,
      restore: adapter.recipe({
        key: objects[0]?.key ?? "",
        compression: objects[0]?.compression ?? "none",
        encrypted: encryption !== null,
      }),
      haven: { version: havenVersion },
    };
    const manifestKey = layout.manifest(target.name, id);
    await assertPayloadPresent(storage, objects);
    await commitManifest(
      storage,
      manifestKey,
      Buffer.from(JSON.stringify(manifest, null, 2)),
      { createOnly: true, contentType: "application/json", signal: ctx.signal, retainUntil },
      logger,
    );
    const plainBytes = objects.reduce((n, o) => n + o.plainSize, 0);
    const storedBytes = objects.reduce((n, o) => n + o.size, 0);
    logger.info(
      {
        state: manifest.state,
        plainBytes,
        storedBytes,
        seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
      },
      "backup committed",
    );
    return result(manifest.state, { snapshotId: id, destinations: [storage.name], plainBytes, storedBytes });
  } catch (error) {
    hookFailed = error;
    // Unless the manifest may exist: then these are a snapshot's data, and maintenance decides.
    if (!(error instanceof ManifestOutcomeUnknown)) await removeBestEffort(storage, written, logger);
    const haven = toHavenError(error, ctx.signal);
    logger.error({ code: haven.code, err: haven.message, hint: haven.hint }, "backup failed");
    return result("failed", { error: { code: haven.code, message: haven.message, hint: haven.hint } });
  } finally {
    if (target.hooks?.after && !hooksReached) {
      logger.info("after hook not run: the run stopped at its probe, before the before hook");
    } else if (target.hooks?.after) {
      // It runs even after a cancel (to resume what `before` paused), so not on ctx.signal; its
      // deadline is timeoutMs alone: a second timer on the same deadline won the race and
      // reported a hook that timed out as "cancelled".
      await runHook(target.hooks.after, {
        timeoutMs: target.hooks.timeout,
        signal: new AbortController().signal,
        logger,
        name: "after",
        env: { HAVEN_TARGET: target.name, HAVEN_SNAPSHOT: id, HAVEN_RESULT: hookFailed ? "failed" : "ok" },
      }).catch((error: unknown) => logger.warn({ err: String(error) }, "after hook failed"));
    }
  }
}

/** Stored sizes of the newest snapshot's objects by stream name; empty for a first backup. */
async function previousObjectSizes(storage: StorageBackend, target: string): Promise<Map<string, number>> {
  const newest = (await listSnapshotRefs(storage, target)).at(-1);
  if (!newest) return new Map();
  try {
    const manifest = await readManifest(storage, target, newest.id);
    return new Map(manifest.payload.map((o) => [o.stream, o.size]));
  } catch {
    return new Map(); // an unreadable old manifest must not stop today's backup
  }
}

async function probeOrThrow(adapter: TargetAdapter, signal: AbortSignal): Promise<void> {
  const probe = await adapter.probe(signal);
  if (probe.ok) return;
  const failed = probe.checks.filter((c) => !c.ok);
  throw new HavenError(
    "SOURCE_FAILED",
    `target ${adapter.name} is not ready: ${failed.map((c) => `${c.name}: ${c.detail}`).join("; ")}`,
    { hint: failed.find((c) => c.hint)?.hint ?? "run `haven doctor` for details" },
  );
}

async function removeBestEffort(storage: StorageBackend, keys: string[], logger: EngineContext["logger"]) {
  if (keys.length === 0) return;
  try {
    await storage.remove(keys);
  } catch (error) {
    logger.warn({ keys, err: String(error) }, "could not remove objects of a failed run; maintenance will");
  }
}

export function toHavenError(error: unknown, signal?: AbortSignal): HavenError {
  if (isHavenError(error)) return error;
  if (signal?.aborted) return new HavenError("CANCELLED", "the run was cancelled", { cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new HavenError("TRANSIENT", message, { cause: error });
}
