/**
 * Integrity check: read back stored objects (all, or a sample), check sizes and sha256 of the stored
 * and the plain bytes, decrypt and decompress to the end, and check the tar structure where the
 * payload is a tar. No scratch restore: cheap enough to run after every backup.
 */
import { hostname } from "node:os";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-stream";
import type { Manifest, StoredObject } from "../catalog/manifest";
import type { EncryptionConfig } from "../config/types";
import { openPlainStream } from "../engine/read-payload";
import type { StorageBackend } from "../storage/types";
import { provesSnapshotDamaged, verificationErrorCode } from "./damage";
import { PhaseTimer, type CheckResult, type VerificationRecord } from "./record";

export interface IntegrityOptions {
  encryption?: EncryptionConfig;
  signal: AbortSignal;
  /** Percent of objects to read back (the main payload is always read). */
  samplePercent?: number;
  random?: () => number;
}

export async function checkIntegrity(
  storage: StorageBackend,
  manifest: Manifest,
  options: IntegrityOptions,
): Promise<VerificationRecord> {
  const startedAt = new Date();
  const timer = new PhaseTimer();
  const checks: CheckResult[] = [];
  let error: VerificationRecord["error"];
  for (const object of sample(
    manifest.payload,
    options.samplePercent ?? 100,
    options.random ?? Math.random,
  )) {
    try {
      const entries = await timer.time("read+decrypt+decompress", () => readObject(storage, object, options));
      checks.push({
        name: `${object.stream}: size and sha256 (stored and plain)`,
        ok: true,
        expected: object.sha256,
      });
      if (entries !== null && object.stream === "data" && typeof manifest.stats.files === "number") {
        checks.push({
          name: "data: tar regular files",
          ok: entries.files === manifest.stats.files,
          expected: manifest.stats.files,
          actual: entries.files,
        });
      }
    } catch (caught) {
      const message = caught instanceof Error ? caught.message : String(caught);
      checks.push({ name: `${object.stream}: read back`, ok: false, detail: message });
      const code = verificationErrorCode(caught);
      // The first error that proves damage stands over later ones (a network error on the next object).
      if (
        !error ||
        (!provesSnapshotDamaged({ result: "failed", error }) &&
          provesSnapshotDamaged({ result: "failed", error: { code } }))
      )
        error = { code, message };
    }
  }
  const ok = checks.every((c) => c.ok);
  return {
    formatVersion: 1,
    kind: "integrity",
    target: manifest.target,
    snapshotId: manifest.id,
    result: ok ? "passed" : "failed",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    phases: timer.phases,
    totalMs: timer.totalMs,
    checks,
    ...(error ? { error } : {}),
    host: hostname(),
  };
}

function sample(objects: StoredObject[], percent: number, random: () => number): StoredObject[] {
  if (percent >= 100) return objects;
  return objects.filter((o) => o.stream === "data" || random() * 100 < percent);
}

/** Reads an object to its end; for tar payloads, parses the archive and counts regular files. */
async function readObject(
  storage: StorageBackend,
  object: StoredObject,
  options: IntegrityOptions,
): Promise<{ files: number } | null> {
  const plain = await openPlainStream(storage, object, {
    encryption: options.encryption,
    signal: options.signal,
  });
  if (object.format !== "tar") {
    await Promise.all([
      pipeline(plain.stream, new Writable({ write: (_c, _e, cb) => cb() })),
      plain.finished,
    ]);
    return null;
  }
  let files = 0;
  const tar = extract();
  tar.on("entry", (header, stream, next) => {
    if (header.type === "file") files++;
    stream.on("end", next);
    // A damaged or truncated payload destroys the entry being read; the pipeline below reports that
    // error. Without a listener here the entry's own 'error' event would crash the process.
    stream.on("error", () => undefined);
    stream.resume();
  });
  await Promise.all([pipeline(plain.stream, tar), plain.finished]);
  return { files };
}
