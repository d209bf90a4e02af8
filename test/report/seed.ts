/**
 * Writes snapshots (tiny payload, then the manifest) and verification records with past timestamps
 * into real destinations, following the bucket layout, and keeps a tally of every object written so
 * tests can check the report's storage figures against what was actually stored.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { layout, newSnapshotId } from "../../src/catalog/layout";
import { MANIFEST_FORMAT_VERSION, type Manifest } from "../../src/catalog/manifest";
import type { Tier } from "../../src/config/types";
import type { StorageBackend } from "../../src/storage/types";
import { writeVerificationRecord, type VerificationRecord } from "../../src/verify/record";

const hex64 = () => randomBytes(32).toString("hex");

export interface TalliedObject {
  destination: string;
  snapshotId: string;
  finishedAt: Date;
  size: number;
  /** For verification records: when the record was written (its finish). */
  recordAt?: Date;
}

export class Seeder {
  readonly objects: TalliedObject[] = [];

  /** A snapshot started at `startedAt`, finished 5 minutes later, on every storage given. */
  async snapshot(
    storages: readonly StorageBackend[],
    target: string,
    startedAt: Date,
    options: { tiers?: Tier[]; state?: Manifest["state"]; warnings?: string[]; plainSize?: number } = {},
  ): Promise<Manifest> {
    const finishedAt = new Date(startedAt.getTime() + 5 * 60_000);
    const id = newSnapshotId(startedAt);
    const data = Buffer.from(`payload of ${target} ${id}`);
    const dataKey = layout.payload(target, id, "data.tar.zst");
    const manifest: Manifest = {
      formatVersion: MANIFEST_FORMAT_VERSION,
      id,
      target,
      targetType: "files",
      tiers: options.tiers ?? ["daily"],
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
      warnings: options.warnings ?? [],
      restore: ["zstd -d < data.tar.zst | tar x"],
      haven: { version: "test" },
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    for (const storage of storages) {
      const dataPut = await storage.put(dataKey, Readable.from([data]));
      const manifestPut = await storage.put(layout.manifest(target, id), Readable.from([manifestBytes]), {
        createOnly: true,
      });
      for (const put of [dataPut, manifestPut]) {
        this.objects.push({ destination: storage.name, snapshotId: id, finishedAt, size: put.size });
      }
    }
    return manifest;
  }

  /** A verification record of `manifest`, finished at `finishedAt`. */
  async record(
    storage: StorageBackend,
    manifest: Manifest,
    finishedAt: Date,
    fields: Partial<VerificationRecord> = {},
  ): Promise<VerificationRecord> {
    const totalMs = fields.totalMs ?? 10 * 60_000;
    const record: VerificationRecord = {
      formatVersion: 1,
      kind: "restore",
      target: manifest.target,
      snapshotId: manifest.id,
      result: "passed",
      startedAt: new Date(finishedAt.getTime() - totalMs).toISOString(),
      finishedAt: finishedAt.toISOString(),
      phases: {
        download: Math.round(totalMs * 0.3),
        load: Math.round(totalMs * 0.6),
        checks: Math.round(totalMs * 0.1),
      },
      totalMs,
      checks: [{ name: "row count of orders", ok: true, expected: ">= 1", actual: 42 }],
      host: "test",
      ...fields,
    };
    const key = await writeVerificationRecord(storage, record);
    const stat = await storage.stat(key);
    this.objects.push({
      destination: storage.name,
      snapshotId: manifest.id,
      finishedAt: new Date(manifest.finishedAt),
      size: stat?.size ?? 0,
      recordAt: finishedAt,
    });
    return record;
  }

  /** Bytes of the tallied objects present at `cutoff` (snapshot finished and record written before it). */
  bytesAt(snapshotIds: ReadonlySet<string>, cutoff: Date): number {
    return this.objects
      .filter((o) => snapshotIds.has(o.snapshotId) && o.finishedAt.getTime() < cutoff.getTime())
      .filter((o) => !o.recordAt || o.recordAt.getTime() < cutoff.getTime())
      .reduce((sum, o) => sum + o.size, 0);
  }
}
