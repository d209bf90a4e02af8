/**
 * Maintenance's clean-up leaves a target alone while a run of it holds its lock (engine/maintenance.ts):
 * age alone cannot tell a run still writing (a backup of terabytes outlives the grace period, and S3
 * dates an upload from its start). A real filesystem destination, and the real target lock in Redis.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Redis from "ioredis";
import { newSnapshotId } from "../../src/catalog/layout";
import { cleanupLeftovers } from "../../src/engine/maintenance";
import { isTargetLocked, withTargetLock } from "../../src/jobs";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { tempDir } from "../helpers/s3-config";

const prefix = `haven-maint-${randomBytes(4).toString("hex")}`;
let redis: Redis;
let root: string;

beforeAll(async () => {
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  root = await tempDir("haven-maintenance");
});

afterAll(async () => {
  await redis.quit();
});

/** A folder without a manifest and an upload never completed, both for `target`, both old. */
async function leftoversOf(target: string): Promise<void> {
  const old = new Date(Date.now() - 3 * 24 * 3600_000);
  const crashed = join(root, target, newSnapshotId(old));
  await mkdir(crashed, { recursive: true });
  await writeFile(join(crashed, "data.tar.zst"), "the data of a run that died");
  await utimes(join(crashed, "data.tar.zst"), old, old);
  await oldUpload(join(root, target, newSnapshotId(old)), "data.tar.zst", old);
}

/** The temp file of a put of `name` into `dir`, dated `at`, as S3 dates an upload: from its start. */
async function oldUpload(dir: string, name: string, at: Date): Promise<void> {
  await mkdir(dir, { recursive: true });
  const upload = join(dir, `.${name}.haven-tmp-${randomBytes(6).toString("hex")}`);
  await writeFile(upload, "still writing");
  await utimes(upload, at, at);
}

/** Files left under the target's folder (the backend removes folders it empties). */
async function filesOf(target: string): Promise<number> {
  const entries = await readdir(join(root, target), { recursive: true, withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? [] : Promise.reject(error)),
  );
  return entries.filter((entry) => entry.isFile()).length;
}

/** One clean-up pass over `storage`, as maintenance runs it, while a run of `target` holds its lock. */
function cleanupWhileLocked(storage: StorageBackend, target: string) {
  const options = {
    graceMs: 3600_000,
    now: new Date(),
    logger: silentLogger,
    busy: (name: string) => isTargetLocked(redis, name, prefix),
  };
  return withTargetLock(redis, target, 60_000, () => cleanupLeftovers(storage, options), { prefix });
}

test("a target whose lock is held keeps its old leftovers; the others' are removed", async () => {
  await leftoversOf("busy");
  await leftoversOf("idle");
  const storage = createStorage({ name: "nas", type: "filesystem", path: root, prefix: "" }, silentLogger);
  try {
    const report = await cleanupWhileLocked(storage, "busy");
    expect(report).toMatchObject({ keptBusy: 2, keptYoung: 0 });
    expect(report.removedObjects).toHaveLength(1);
    expect(report.abortedUploads).toHaveLength(1);
    expect(await filesOf("busy")).toBe(2);
    expect(await filesOf("idle")).toBe(0);

    // Once the run is over (the lock released), the same leftovers are old enough to go.
    const after = await cleanupLeftovers(storage, {
      graceMs: 3600_000,
      now: new Date(),
      logger: silentLogger,
      busy: (target) => isTargetLocked(redis, target, prefix),
    });
    expect(after).toMatchObject({ keptBusy: 0 });
    expect(await filesOf("busy")).toBe(0);
  } finally {
    await storage.close();
  }
});

test("a folder whose run commits after the listing is kept: its manifest is looked for again before removal", async () => {
  const target = "committing";
  const old = new Date(Date.now() - 3 * 24 * 3600_000);
  const id = newSnapshotId(old);
  const folder = join(root, target, id);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "data.tar.zst"), "the data of a run still writing");
  await utimes(join(folder, "data.tar.zst"), old, old); // S3 dates a multipart object from its start
  const storage = createStorage({ name: "nas", type: "filesystem", path: root, prefix: "" }, silentLogger);
  try {
    const report = await cleanupLeftovers(storage, {
      graceMs: 3600_000,
      now: new Date(),
      logger: silentLogger,
      // Asked after the listing: the run writes its manifest and releases its lock meanwhile.
      busy: async (name) => {
        if (name === target) await writeFile(join(folder, "manifest.json"), "{}");
        return false;
      },
    });
    expect(report).toMatchObject({ keptCommitted: 1, removedObjects: [] });
    expect((await readdir(folder)).sort()).toEqual(["data.tar.zst", "manifest.json"]);
  } finally {
    await storage.close();
  }
});

test("uploads outside this destination's layout (a nested destination's, another tool's) are never aborted", async () => {
  // destinations { outer: { path: root, prefix: "" }, inner: { path: root, prefix: "site-b/" } }: the
  // outer one lists the inner one's uploads too, but cannot see whether their target is busy.
  const old = new Date(Date.now() - 3 * 24 * 3600_000);
  const running = join(root, "site-b", "orders", newSnapshotId(old));
  await oldUpload(running, "data.tar.zst", old);
  const outer = createStorage({ name: "outer", type: "filesystem", path: root, prefix: "" }, silentLogger);
  try {
    const report = await cleanupWhileLocked(outer, "orders");
    expect(report.abortedUploads).toEqual([]);
    expect(await readdir(running)).toHaveLength(1);
  } finally {
    await outer.close();
  }
});

test("an upload left in Haven's own areas is still aborted", async () => {
  const old = new Date(Date.now() - 3 * 24 * 3600_000);
  await oldUpload(join(root, "_audit", "2026", "11", "20"), "20261120T020000Z-x.json", old);
  const storage = createStorage({ name: "nas", type: "filesystem", path: root, prefix: "" }, silentLogger);
  try {
    const report = await cleanupWhileLocked(storage, "orders");
    expect(report.abortedUploads).toEqual(["_audit/2026/11/20/20261120T020000Z-x.json"]);
  } finally {
    await storage.close();
  }
});
