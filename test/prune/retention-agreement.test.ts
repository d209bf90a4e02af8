/**
 * A worker still on an old config does not prune by its old policy: the scheduled prune removes a
 * target's snapshots only when the worker's retention for it is the one the newest serve published
 * (app/retention-agreement.ts). Real Redis, a real filesystem destination, the worker's processors.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { Monitor } from "../../src/app/monitoring";
import { PublishedEstate } from "../../src/app/published-estate";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { listSnapshotRefs } from "../../src/catalog/catalog";
import { connectTestRedis } from "../jobs/helpers/redis";
import { uniquePrefix } from "../jobs/helpers/config";
import { hourlyCleanup } from "../jobs/helpers/hourly-cleanup";
import { tempDir } from "../helpers/s3-config";
import { DAY, writeSnapshot } from "./fixtures";

let redis: Redis;
let work: string;
const prefix = uniquePrefix("retention-agreement");

beforeAll(async () => {
  redis = await connectTestRedis();
  work = await tempDir("haven-retention-agreement");
  await mkdir(join(work, "nas"));
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

function config(dailies: number): HavenConfig {
  return parseConfigText(
    [
      `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
      `queuePrefix: ${prefix}`,
      "destinations:",
      `  nas: { type: filesystem, path: ${join(work, "nas")} }`,
      "targets:",
      `  app: { type: files, path: /srv/app, destinations: [nas], retention: { daily: ${dailies} } }`,
    ].join("\n"),
    join(work, `haven-${dailies}.yaml`),
  );
}

async function snapshotsLeft(): Promise<number> {
  const storage = createStorage(config(7).destinations.nas!, silentLogger);
  try {
    return (await listSnapshotRefs(storage, "app")).length;
  } finally {
    await storage.close();
  }
}

test("a worker whose retention differs from serve's leaves the target alone; once it agrees, it prunes", async () => {
  const storage = createStorage(config(7).destinations.nas!, silentLogger);
  const now = Date.now();
  for (let day = 1; day <= 4; day++) await writeSnapshot(storage, "app", new Date(now - day * DAY));
  await storage.close();
  const estate = new PublishedEstate(redis, prefix);
  const oldWorker = config(2);

  // serve now runs the raised policy (30 dailies); the old worker would keep 2 of 4.
  await estate.publish(config(30), new Date());
  expect(await hourlyCleanup(oldWorker, redis)).toBeUndefined(); // a rollout in progress: routine
  expect(await snapshotsLeft()).toBe(4);

  // An hour on, that worker was never restarted: refused, alerted, still nothing removed.
  await estate.publish(config(30), new Date(now - 2 * 3_600_000));
  expect(await hourlyCleanup(oldWorker, redis)).toMatchObject({
    code: "REFUSED",
    message: expect.stringContaining("retention for app differs from the config serve runs"),
  });
  expect(await snapshotsLeft()).toBe(4);
  const monitor = new Monitor(oldWorker, redis, silentLogger);
  try {
    expect((await monitor.incidents.openIncidents()).map((i) => i.key)).toContain("prune-refused:app");
  } finally {
    await monitor.close();
  }

  // serve's config is the worker's: it prunes by it.
  await estate.publish(oldWorker, new Date());
  expect(await hourlyCleanup(oldWorker, redis)).toBeUndefined();
  expect(await snapshotsLeft()).toBe(2);
});
