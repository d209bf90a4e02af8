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
  const running = join(root, target, newSnapshotId(old));
  await mkdir(running, { recursive: true });
  const upload = join(running, `.data.tar.zst.haven-tmp-${randomBytes(6).toString("hex")}`);
  await writeFile(upload, "still writing");
  await utimes(upload, old, old); // as S3 dates an upload: from its start
}

/** Files left under the target's folder (the backend removes folders it empties). */
async function filesOf(target: string): Promise<number> {
  const entries = await readdir(join(root, target), { recursive: true, withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? [] : Promise.reject(error)),
  );
  return entries.filter((entry) => entry.isFile()).length;
}

test("a target whose lock is held keeps its old leftovers; the others' are removed", async () => {
  await leftoversOf("busy");
  await leftoversOf("idle");
  const storage = createStorage({ name: "nas", type: "filesystem", path: root, prefix: "" }, silentLogger);
  try {
    const report = await withTargetLock(
      redis,
      "busy",
      60_000,
      () =>
        cleanupLeftovers(storage, {
          graceMs: 3600_000,
          now: new Date(),
          logger: silentLogger,
          busy: (target) => isTargetLocked(redis, target, prefix),
        }),
      { prefix },
    );
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
