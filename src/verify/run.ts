/**
 * One verification run of one target: pick the snapshot, check it, and store the record next to it.
 * The record is written whatever the result: a failed verification is evidence too. Two kinds:
 * - integrity: read back and hash (integrity.ts); cheap, no scratch place;
 * - restore: restore into a scratch place and run checks (restore-test.ts); a measured restore time.
 * Both carry the freshness guard: they fail when the target's newest snapshot is older than its RPO.
 */
import type { HavenConfig } from "../config/types";
import { storageFor, targetOrThrow } from "../engine/backup";
import type { EngineContext } from "../engine/types";
import { checkIntegrity } from "./integrity";
import { writeVerificationRecord, type VerificationRecord } from "./record";
import { runRestoreTest, type RestoreTestRequest } from "./restore-test";
import { chooseSnapshot } from "./select";

export interface VerificationRequest extends RestoreTestRequest {
  /** Default: the target's `verify.kind` (restore unless configured otherwise). */
  kind?: VerificationRecord["kind"];
}

export async function runVerification(
  config: HavenConfig,
  request: VerificationRequest,
  ctx: EngineContext,
): Promise<VerificationRecord & { recordKey: string }> {
  const target = targetOrThrow(config, request.target);
  if ((request.kind ?? target.verify.kind) === "restore") return runRestoreTest(config, request, ctx);
  const storage = storageFor(config, target.name, request.from, ctx);
  try {
    const { manifest, freshness } = await chooseSnapshot(storage, target, {
      snapshotId: request.snapshotId,
      now: request.now?.() ?? new Date(),
      random: request.random ?? Math.random,
    });
    const integrity = await checkIntegrity(storage, manifest, {
      encryption: config.encryption,
      signal: ctx.signal,
      samplePercent: target.verify.sample,
      random: request.random,
    });
    const checks = [freshness, ...integrity.checks];
    const record: VerificationRecord = {
      ...integrity,
      checks,
      result: checks.every((c) => c.ok) ? "passed" : "failed",
    };
    const recordKey = await writeVerificationRecord(storage, record);
    ctx.logger.info(
      { target: target.name, snapshot: manifest.id, result: record.result, ms: record.totalMs },
      "verification recorded",
    );
    return { ...record, recordKey };
  } finally {
    await storage.close();
  }
}
