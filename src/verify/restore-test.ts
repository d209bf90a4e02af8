/**
 * Restore test: restore one snapshot into a scratch place (scratch/), run the checks, drop the place,
 * and store the record next to the snapshot. First, what crashed tests of the target left behind is
 * swept (scratch/sweep.ts). Phases, in the record's `phases`:
 * - restore: create the scratch place and stream the snapshot in. Download, decryption,
 *   decompression and loading overlap in one stream, so they are one measured phase;
 * - checks: built-in checks (row counts, keys, files against the index) and the target's YAML checks;
 * - cleanup: drop the scratch place, always: after success, a failed check, an error or cancellation.
 * `totalMs` (all three) is the measured restore time that RTO evaluation reads.
 *
 * A cancelled test (the run's signal aborted) cleans up and rejects with CANCELLED without a record:
 * it proves nothing either way. Any other failure is recorded as a failed verification.
 */
import { hostname } from "node:os";
import { Readable } from "node:stream";
import type { StorageBackend } from "../storage/types";
import { mainObject, type Manifest } from "../catalog/manifest";
import type { CheckConfig, HavenConfig, TargetConfig } from "../config/types";
import { storageFor, targetOrThrow } from "../engine/backup";
import { openPlainStream } from "../engine/read-payload";
import type { EngineContext } from "../engine/types";
import { formatDuration } from "../lib/duration";
import { HavenError, isHavenError } from "../lib/errors";
import { collectingRun } from "../targets/run-context";
import type { RunContext } from "../targets/types";
import { failedToRun, isSqlCheck, notApplicable, sqlCheckResult } from "./checks";
import { verificationErrorCode } from "./damage";
import { PhaseTimer, writeVerificationRecord, type CheckResult, type VerificationRecord } from "./record";
import { checkFile, createScratchPlace, sweepScratchLeftovers, type ScratchPlace } from "./scratch";
import type { BuiltInCheckContext } from "./scratch/types";
import { chooseSnapshot, type SnapshotChoice } from "./select";

export interface RestoreTestRequest {
  target: string;
  /** Default: the newest snapshot, or a random one within `verify.randomWithin` when set. */
  snapshotId?: string;
  /** The clock for the freshness guard and `randomWithin` (tests inject one). Default: system clock. */
  now?: () => Date;
  /** Picks among snapshots within `randomWithin`; [0, 1) like Math.random (the default). */
  random?: () => number;
  /**
   * Read the snapshot from this destination, and keep the record beside it there, instead of the
   * target's primary: a copy is proved restorable before the disaster that needs it, and is all
   * there is to verify when the primary is lost.
   */
  from?: string;
}

/** A restore test's record: the common record plus what was restored where, and how fast. */
export interface RestoreTestRecord extends VerificationRecord {
  kind: "restore";
  restore: {
    /** The scratch place, e.g. "postgres database 127.0.0.1:5432/haven_verify_x_0tpn4ja_1a2b as postgres". */
    scratch: string;
    /** Bytes of the plain (decrypted, decompressed) main payload loaded into the scratch place. */
    plainBytes: number;
    /** Bytes read from the destination for it (compressed, encrypted). */
    storedBytes: number;
    /** plainBytes per second of the restore phase, in MB (10^6 bytes). */
    megabytesPerSecond: number;
  };
  /** Non-fatal problems the restore reported. */
  warnings: string[];
}

export async function runRestoreTest(
  config: HavenConfig,
  request: RestoreTestRequest,
  ctx: EngineContext,
): Promise<RestoreTestRecord & { recordKey: string }> {
  const target = targetOrThrow(config, request.target);
  const storage = storageFor(config, target.name, request.from, ctx);
  try {
    const choice = await chooseSnapshot(storage, target, {
      snapshotId: request.snapshotId,
      randomWithinMs: target.verify.randomWithin,
      now: request.now?.() ?? new Date(),
      random: request.random ?? Math.random,
    });
    const record = await restoreTest(storage, config, target, choice, ctx);
    const recordKey = await writeVerificationRecord(storage, record);
    ctx.logger.info(
      {
        target: target.name,
        snapshot: record.snapshotId,
        result: record.result,
        ms: record.totalMs,
        recordKey,
      },
      "restore test recorded",
    );
    return { ...record, recordKey };
  } finally {
    await storage.close();
  }
}

/**
 * How long a restore test may run: `verify.timeout`, by default four times the RTO (at least an
 * hour). A restore that hangs (a stuck pg_restore, a server that stopped answering) otherwise held
 * its job, a worker slot and a full scratch copy for ever, and said nothing until the missed
 * verification alert; long past the RTO the time it would measure is no longer worth the wait.
 */
function restoreTestTimeout(target: TargetConfig): number {
  return target.verify.timeout ?? Math.max(4 * target.rto, 3_600_000);
}

async function restoreTest(
  storage: StorageBackend,
  config: HavenConfig,
  target: TargetConfig,
  choice: SnapshotChoice,
  ctx: EngineContext,
): Promise<RestoreTestRecord> {
  const { manifest } = choice;
  const startedAt = new Date();
  const logger = ctx.logger.child({ target: target.name, snapshot: manifest.id, verification: "restore" });
  const timeoutMs = restoreTestTimeout(target);
  const deadline = AbortSignal.timeout(timeoutMs);
  // The job's signal (shutdown, cancel) or the deadline: both stop the restore and its checks.
  const signal = AbortSignal.any([ctx.signal, deadline]);
  const { run, warnings } = collectingRun(signal, logger);
  const openStream = (name: string) => openPayload(storage, config, manifest, name, signal);
  const checks: CheckResult[] = [choice.freshness];
  const bytes = { plain: 0, stored: 0 };
  const timer = new PhaseTimer();
  let place: ScratchPlace | undefined;
  let phase: "restore" | "checks" = "restore";
  let error: VerificationRecord["error"];
  let cancelled: unknown;
  let removed = true;
  // Before the timer: removing a crashed test's leftovers is no part of this restore's time (RTO).
  await sweepScratchLeftovers(target, logger);
  try {
    place = await timer.time("restore", () => createScratchPlace(target, logger));
    const scratch = place;
    logger.info({ scratch: scratch.description }, "restore test started");
    await timer.time("restore", () =>
      streamInto(scratch, storage, config, manifest, run, { ...ctx, signal }, bytes),
    );
    phase = "checks";
    checks.push(
      ...(await timer.time("checks", () => runChecks(scratch, target, { manifest, openStream, signal }))),
    );
  } catch (caught) {
    if (ctx.signal.aborted) cancelled = caught;
    else {
      // A test stopped at its deadline failed around the snapshot, not because of it: its phase
      // check fails (never counted as damage), and the RTO, which it overran, is breached.
      const message = deadline.aborted
        ? `the restore test did not finish within ${formatDuration(timeoutMs)} (verify.timeout) and was stopped`
        : caught instanceof Error
          ? caught.message
          : String(caught);
      error = { code: deadline.aborted ? "TIMEOUT" : verificationErrorCode(caught), message };
      checks.push({ name: phase, ok: false, detail: message });
      logger.warn({ code: error.code, err: message, phase }, "restore test failed");
    }
  } finally {
    if (place) removed = await cleanUp(place, timer, checks, logger);
  }
  if (cancelled !== undefined) {
    const left = removed
      ? "its scratch place was removed"
      : `its scratch place may remain: ${place?.description}`;
    throw new HavenError("CANCELLED", `the restore test of ${target.name} was cancelled; ${left}`, {
      cause: cancelled,
    });
  }
  const restoreMs = timer.phases.restore ?? 0;
  return {
    formatVersion: 1,
    kind: "restore",
    target: target.name,
    snapshotId: manifest.id,
    result: checks.every((c) => c.ok) && !error ? "passed" : "failed",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    phases: timer.phases,
    totalMs: timer.totalMs,
    checks,
    ...(error ? { error } : {}),
    host: hostname(),
    restore: {
      scratch: place?.description ?? "none",
      plainBytes: bytes.plain,
      storedBytes: bytes.stored,
      megabytesPerSecond:
        restoreMs > 0 ? Math.round((bytes.plain / 1e6 / (restoreMs / 1000)) * 100) / 100 : 0,
    },
    warnings,
  };
}

/**
 * Streams the main payload from the destination into the place. The place's own failure is usually
 * the symptom when the read failed (corrupt object, wrong key): a Haven error from the read wins.
 */
async function streamInto(
  place: ScratchPlace,
  storage: StorageBackend,
  config: HavenConfig,
  manifest: Manifest,
  run: RunContext,
  ctx: EngineContext,
  bytes: { plain: number; stored: number },
): Promise<void> {
  const main = mainObject(manifest);
  const plain = await openPlainStream(storage, main, {
    encryption: config.encryption,
    signal: ctx.signal,
    onStoredBytes: (total) => (bytes.stored = total),
  });
  const extra: Record<string, () => Promise<Readable>> = {};
  for (const object of manifest.payload) {
    if (object !== main)
      extra[object.stream] = async () =>
        (await openPayload(storage, config, manifest, object.stream, ctx.signal)) as Readable;
  }
  const body = countConsumed(plain.stream, (total) => {
    bytes.plain = total;
    ctx.onProgress?.({ phase: "restore", bytes: total, total: main.plainSize });
  });
  const loading = place.restore(body, run, { extra });
  // A place that gave up without reading must not leave the download running.
  loading.catch(() => plain.stream.destroy());
  const [loaded, read] = await Promise.allSettled([loading, plain.finished]);
  const readError = read.status === "rejected" ? (read.reason as unknown) : undefined;
  const loadError = loaded.status === "rejected" ? (loaded.reason as unknown) : undefined;
  const cause = isHavenError(readError) ? readError : (loadError ?? readError);
  if (cause !== undefined) throw cause as Error;
}

/**
 * The stream as its consumer pulls it: counts only what the scratch place has taken (the download
 * buffers ahead), so the first progress event means loading has begun.
 */
function countConsumed(source: Readable, onBytes: (total: number) => void): Readable {
  let total = 0;
  async function* pull(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      total += (chunk as Buffer).length;
      onBytes(total);
      yield chunk as Buffer;
    }
  }
  return Readable.from(pull(), { objectMode: false });
}

async function runChecks(
  place: ScratchPlace,
  target: TargetConfig,
  context: BuiltInCheckContext,
): Promise<CheckResult[]> {
  const checks = await place.builtInChecks(context);
  for (const check of target.verify.checks) {
    context.signal.throwIfAborted();
    checks.push(await yamlCheck(place, target, check, context.signal));
  }
  return checks;
}

async function yamlCheck(place: ScratchPlace, target: TargetConfig, check: CheckConfig, signal: AbortSignal) {
  try {
    if (isSqlCheck(check)) {
      if (!place.query) return notApplicable(check, target.type);
      const { value, hasRow } = await place.query(check.sql, signal);
      return sqlCheckResult(check, value, hasRow);
    }
    if (place.directory === undefined) return notApplicable(check, target.type);
    return await checkFile(place.directory, check);
  } catch (error) {
    if (signal.aborted) throw error;
    return failedToRun(check, error);
  }
}

/** Removes the scratch place; a failure to do so fails the verification and says what is left behind. */
async function cleanUp(
  place: ScratchPlace,
  timer: PhaseTimer,
  checks: CheckResult[],
  logger: EngineContext["logger"],
): Promise<boolean> {
  try {
    await timer.time("cleanup", () => place.cleanup());
    logger.info({ scratch: place.description }, "scratch place removed");
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    checks.push({ name: "cleanup", ok: false, detail: message });
    logger.error({ scratch: place.description, err: message }, "the scratch place could not be removed");
    return false;
  }
}

/** The plain stream of the snapshot's payload stream `name`, or null when the snapshot has none. */
async function openPayload(
  storage: StorageBackend,
  config: HavenConfig,
  manifest: Manifest,
  name: string,
  signal: AbortSignal,
): Promise<Readable | null> {
  const object = manifest.payload.find((o) => o.stream === name);
  if (!object) return null;
  // Failures of any stage destroy the stream with the error, so its reader sees them.
  return (await openPlainStream(storage, object, { encryption: config.encryption, signal })).stream;
}
