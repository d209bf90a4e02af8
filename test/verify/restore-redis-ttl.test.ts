/**
 * Restore test of a Redis snapshot holding keys with a TTL that has passed by the time the test runs:
 * redis-server drops such keys while it loads the RDB, yet they are in the snapshot, so they count.
 */
import { Redis } from "ioredis";
import { mkdir, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { startRedisServer, type RedisServerHandle } from "../../src/targets/redis/scratch";
import { provesSnapshotDamaged } from "../../src/verify/damage";
import { runRestoreTest } from "../../src/verify/restore-test";
import { uniqueName } from "../helpers/db";
import { tempDir } from "../helpers/s3-config";
import { backup, check, context, filesystemDestination, readRecord, verifyConfig } from "./helpers";

const target = uniqueName("vredisttl");
let source: RedisServerHandle;
let work: string;

function config(): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: redis",
    "  host: 127.0.0.1",
    `  port: ${source.port}`,
  ]);
}

beforeAll(async () => {
  work = await tempDir("haven-verify-redis-ttl");
  await mkdir(join(work, "destination"));
  source = await startRedisServer({ config: ["repl-diskless-sync-delay 0"] });
  const client = new Redis({ host: "127.0.0.1", port: source.port, lazyConnect: true });
  await client.connect();
  const bulk = client.pipeline();
  for (let i = 0; i < 20; i++) bulk.set(`kept:${i}`, "v");
  for (let i = 0; i < 5; i++) bulk.set(`session:${i}`, "v", "PX", 3000);
  await bulk.exec();
  client.disconnect();
}, 60_000);

afterAll(async () => {
  await source?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test("keys whose TTL ran out after the backup count as keys of the snapshot", async () => {
  const cfg = config();
  await backup(cfg, target);
  await sleep(3500);
  const result = await runRestoreTest(cfg, { target }, context());
  const stored = await readRecord(cfg, result.recordKey);
  expect(check(stored, "keys")).toMatchObject({ ok: true, expected: 25, actual: 25 });
  expect(stored.result).toBe("passed");
  expect(provesSnapshotDamaged(stored)).toBe(false);
});
