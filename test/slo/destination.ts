/** Writes snapshots and verification records into a real destination, following the bucket layout. */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { layout, newSnapshotId } from "../../src/catalog/layout";
import { MANIFEST_FORMAT_VERSION, type Manifest } from "../../src/catalog/manifest";
import type { StorageBackend } from "../../src/storage/types";
import { writeVerificationRecord, type VerificationRecord } from "../../src/verify/record";

const hex64 = () => randomBytes(32).toString("hex");

/** A committed snapshot with a small data object and its manifest (written last). */
export async function writeSnapshot(
  storage: StorageBackend,
  target: string,
  finishedAt: Date,
  options: { plainSize?: number; state?: Manifest["state"] } = {},
): Promise<Manifest> {
  const startedAt = new Date(finishedAt.getTime() - 5 * 60_000);
  const id = newSnapshotId(startedAt);
  const data = Buffer.from(`payload of ${id}`);
  const dataKey = layout.payload(target, id, "data.tar.zst");
  await storage.put(dataKey, Readable.from([data]));
  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id,
    target,
    targetType: "files",
    tiers: ["daily"],
    state: options.state ?? "committed",
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    source: { host: "test" },
    payload: [
      {
        key: dataKey,
        stream: "data",
        format: "tar",
        size: data.length,
        sha256: hex64(),
        plainSize: options.plainSize ?? 1000,
        plainSha256: hex64(),
        compression: "zstd",
        encryption: null,
      },
    ],
    stats: {},
    warnings: [],
    restore: ["zstd -d < data.tar.zst | tar x"],
    haven: { version: "test" },
  };
  await storage.put(layout.manifest(target, id), Readable.from([Buffer.from(JSON.stringify(manifest))]), {
    createOnly: true,
  });
  return manifest;
}

export async function writeVerification(
  storage: StorageBackend,
  manifest: Manifest,
  finishedAt: Date,
  fields: Partial<VerificationRecord> = {},
): Promise<VerificationRecord> {
  const totalMs = fields.totalMs ?? 60_000;
  const record: VerificationRecord = {
    formatVersion: 1,
    kind: "restore",
    target: manifest.target,
    snapshotId: manifest.id,
    result: "passed",
    startedAt: new Date(finishedAt.getTime() - totalMs).toISOString(),
    finishedAt: finishedAt.toISOString(),
    phases: { download: totalMs / 2, load: totalMs / 2 },
    totalMs,
    checks: [],
    host: "test",
    ...fields,
  };
  await writeVerificationRecord(storage, record);
  return record;
}
