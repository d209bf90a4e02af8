/**
 * Copies run under a lock of their own, which the hourly cleanup honours as it honours a target's:
 * S3 dates an upload from its start, so a copy that outlived staleUploadGrace was aborted as
 * abandoned, every hour. Real Redis, a real filesystem destination, the worker's processors.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { newSnapshotId } from "../../src/catalog/layout";
import { parseConfigText } from "../../src/config/load";
import { withTargetLock } from "../../src/jobs/lock";
import { connectTestRedis } from "../jobs/helpers/redis";
import { uniquePrefix } from "../jobs/helpers/config";
import { hourlyCleanup } from "../jobs/helpers/hourly-cleanup";
import { tempDir } from "../helpers/s3-config";

let redis: Redis;
let work: string;
const prefix = uniquePrefix("copy-lock");

beforeAll(async () => {
  redis = await connectTestRedis();
  work = await tempDir("haven-copy-lock");
  await mkdir(join(work, "nas"));
  await mkdir(join(work, "offsite"));
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const config = () =>
  parseConfigText(
    [
      `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
      `queuePrefix: ${prefix}`,
      "destinations:",
      `  nas: { type: filesystem, path: ${join(work, "nas")} }`,
      `  offsite: { type: filesystem, path: ${join(work, "offsite")} }`,
      "targets:",
      "  app: { type: files, path: /srv/app, destinations: [nas, offsite] }",
    ].join("\n"),
    join(work, "haven.yaml"),
  );

const runCleanup = async () => expect(await hourlyCleanup(config(), redis)).toBeUndefined();

test("a copy's upload older than the grace period is kept while the copy runs, removed once it is gone", async () => {
  // A copy to offsite started two days ago and still writing: its temp file is dated from its start.
  const started = new Date(Date.now() - 2 * 24 * 3_600_000);
  const folder = join(work, "offsite", "app", newSnapshotId(started));
  await mkdir(folder, { recursive: true });
  const upload = join(folder, `.data.tar.zst.haven-tmp-${randomBytes(6).toString("hex")}`);
  await writeFile(upload, "still copying");
  await utimes(upload, started, started);

  let release!: () => void;
  const copying = withTargetLock(
    redis,
    "_copy-app",
    60_000,
    () => new Promise<void>((resolve) => (release = resolve)),
    { prefix, owner: "copy" },
  );
  try {
    await runCleanup();
    expect(await readdir(folder)).toHaveLength(1);
  } finally {
    release();
    await copying;
  }
  // That copy died without cleaning up: its leftovers go.
  await runCleanup();
  await expect(readdir(folder)).rejects.toMatchObject({ code: "ENOENT" });
});
