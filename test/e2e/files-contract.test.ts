/**
 * Issue 2, the contracts around a files snapshot, through the built CLI against s3rver over HTTP:
 * the snapshot format recomputed from the bucket (every recorded size and sha256), choosing a
 * snapshot by id or time (exit 10 when there is none), working with Redis gone, `--direct` backups
 * honouring the target lock, and `haven plan`.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import type { Redis } from "ioredis";
import { layout } from "../../src/catalog/layout";
import { manifestSchema, type Manifest } from "../../src/catalog/manifest";
import { parseConfigText } from "../../src/config/load";
import { connectRedis } from "../../src/jobs/connection";
import { withTargetLock } from "../../src/jobs/lock";
import { silentLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { compareTrees, makeFixtureTree, removeTree } from "../helpers/fixture-tree";
import { runCli, withoutProgress } from "../helpers/cli";
import { s3DestinationYaml, tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const bucket = uniqueName("e2e-contract");
const queuePrefix = uniqueName("haven-contract");
let s3: S3rverHandle;
let work: string;
let source: string;
let configPath: string;
let noRedisConfigPath: string;
let storage: StorageBackend;

function configYaml(redis: string): string {
  return [
    `redis: ${redis}`,
    `queuePrefix: ${queuePrefix}`,
    "destinations:",
    s3DestinationYaml(s3, bucket, "prod/"),
    "targets:",
    "  share:",
    "    type: files",
    `    path: ${JSON.stringify(source)}`,
    "    destinations: [primary]",
    '    schedule: { daily: "30 1 * * *", weekly: "0 3 * * 0" }',
    "",
  ].join("\n");
}

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  work = await tempDir("haven-e2e-contract");
  source = join(work, "share");
  await makeFixtureTree(source, { bigFileBytes: 3 * 1024 * 1024 });
  configPath = await writeConfigFile(work, configYaml(redisUrl));
  // Port 1 on loopback: nothing listens there, so Redis is "lost".
  noRedisConfigPath = join(work, "no-redis.yaml");
  await writeFile(noRedisConfigPath, configYaml("redis://127.0.0.1:1"));
  storage = createStorage(
    parseConfigText(configYaml(redisUrl), configPath).destinations.primary!,
    silentLogger,
  );
}, 60_000);

afterAll(async () => {
  await storage?.close();
  await s3?.stop();
  if (work) await removeTree(work);
});

const cli = (...args: string[]) => runCli(["-c", configPath, ...args]);

async function backup(): Promise<string> {
  const run = await cli("backup", "share", "--direct", "-o", "json");
  expect(withoutProgress(run.stderr)).toBe("");
  expect(run.code).toBe(0);
  return (JSON.parse(run.stdout) as { snapshotId: string }).snapshotId;
}

async function readObject(key: string): Promise<Buffer> {
  return buffer(await storage.get(key));
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

let first: string;
let second: string;

test("snapshot format: layout keys, every size and sha256 recomputed from the bucket, manifest valid", async () => {
  first = await backup();
  const keys: string[] = [];
  for await (const object of storage.list(`share/${first}/`)) keys.push(object.key);
  const manifest: Manifest = manifestSchema.parse(
    JSON.parse((await readObject(layout.manifest("share", first))).toString()),
  );

  expect(manifest).toMatchObject({ id: first, target: "share", targetType: "files", state: "committed" });
  expect(manifest.tiers).toEqual(["manual"]);
  expect(first).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
  expect(keys.sort()).toEqual(
    [layout.manifest("share", first), ...manifest.payload.map((o) => o.key)].sort(),
  );
  expect(manifest.payload.map((o) => o.stream).sort()).toEqual(["data", "index"]);
  for (const object of manifest.payload) {
    expect(object.key.startsWith(`share/${first}/`)).toBe(true);
    const stored = await readObject(object.key);
    expect({ key: object.key, size: stored.length, sha256: sha256(stored) }).toEqual({
      key: object.key,
      size: object.size,
      sha256: object.sha256,
    });
    // The plain stream is what zstd -d gives back, byte for byte.
    expect(object.compression).toBe("zstd");
    const plain = spawnSync("zstd", ["-d", "-c", "-q"], { input: stored, maxBuffer: 1 << 30 });
    expect(plain.status).toBe(0);
    expect({ size: plain.stdout.length, sha256: sha256(plain.stdout) }).toEqual({
      size: object.plainSize,
      sha256: object.plainSha256,
    });
  }
  const tree = await makeFixtureTreeCounts();
  expect(manifest.stats).toMatchObject({ files: tree.files, bytes: tree.bytes });
  expect(manifest.restore.join("\n")).toContain("zstd -d");
  expect(manifest.haven.version).toMatch(/^\d+\.\d+\.\d+/);
});

/** File count and bytes of the source, counted independently of Haven. */
async function makeFixtureTreeCounts(): Promise<{ files: number; bytes: number }> {
  const { readdir, lstat } = await import("node:fs/promises");
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(source, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await lstat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

test("restore --snapshot and --at pick the snapshot asked for; an unknown one exits 10", async () => {
  // A second snapshot of a changed tree, at least a second later so its id sorts after the first.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await writeFile(join(source, "added-later.txt"), "only in the second snapshot\n");
  second = await backup();
  expect(second > first).toBe(true);

  const newest = await cli("restore", "share", "--to", join(work, "r-newest"), "--dry-run");
  expect(newest.code).toBe(0);
  expect(newest.stdout).toContain(`snapshot ${second}`);

  const byId = await cli("restore", "share", "--snapshot", first, "--to", join(work, "r-first"));
  expect(byId.code).toBe(0);
  expect(byId.stdout).toContain(`snapshot ${first}`);
  const firstTree = await compareTrees(source, join(work, "r-first"));
  expect(firstTree).toHaveLength(1); // only the file added after the first snapshot differs
  expect(JSON.stringify(firstTree)).toContain("added-later.txt");

  const idTime = (id: string) =>
    `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}Z`;
  const byTime = await cli(
    "restore",
    "share",
    "--at",
    idTime(first),
    "--to",
    join(work, "r-at"),
    "--dry-run",
  );
  expect(byTime.code).toBe(0);
  expect(byTime.stdout).toContain(`snapshot ${first}`);

  const unknown = await cli(
    "restore",
    "share",
    "--snapshot",
    "20200101T000000Z-00000000",
    "--to",
    join(work, "r-x"),
  );
  expect(unknown.code).toBe(10);
  expect(unknown.stderr).toContain("20200101T000000Z-00000000");
  const tooEarly = await cli("restore", "share", "--at", "2001-01-01T00:00:00Z", "--to", join(work, "r-y"));
  expect(tooEarly.code).toBe(10);
  const both = await cli(
    "restore",
    "share",
    "--snapshot",
    first,
    "--at",
    idTime(first),
    "--to",
    join(work, "r-z"),
  );
  expect(both.code).toBe(2);
});

test("with Redis gone, snapshots are listed and restored from the bucket alone", async () => {
  const withoutRedis = (...args: string[]) => runCli(["-c", noRedisConfigPath, ...args]);
  const listed = await withoutRedis("snapshots", "share", "-o", "json");
  expect(listed.code).toBe(0);
  expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((s) => s.id)).toEqual([first, second]);

  const to = join(work, "r-no-redis");
  const restored = await withoutRedis("restore", "share", "--direct", "--to", to);
  expect(restored.code).toBe(0);
  expect(await compareTrees(source, to)).toEqual([]);

  // A direct backup still runs (warning that it could not take the lock) and commits.
  const backedUp = await withoutRedis("backup", "share", "--direct", "-o", "json");
  expect(backedUp.code).toBe(0);
  expect(JSON.parse(backedUp.stdout)).toMatchObject({ state: "committed" });
  expect(backedUp.stderr).toContain("without the target lock");
});

describe("with Redis", () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = await connectRedis(parseConfigText(configYaml(redisUrl), configPath).redis, { role: "client" });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${queuePrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  test("a direct backup honours the target lock a worker holds: skipped, exit 11, nothing written", async () => {
    const before = (await runCli(["-c", configPath, "snapshots", "share", "-o", "json"])).stdout;
    const run = await withTargetLock(redis, "share", 60_000, () => cli("backup", "share", "--direct"), {
      prefix: queuePrefix,
    });
    expect(run.code).toBe(11);
    expect(run.stdout).toContain("skipped share");
    expect((await cli("snapshots", "share", "-o", "json")).stdout).toBe(before);
  });

  test("haven plan lists the schedulers serve would create, and creates none", async () => {
    const plan = await cli("plan");
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^\+ \S*share\S*daily\S*\s+30 1 \* \* \*/m);
    expect(plan.stdout).toMatch(/^\+ \S*share\S*weekly\S*\s+0 3 \* \* 0/m);
    expect(plan.stdout).toMatch(/\d+ to create, 0 to change, 0 to remove, 0 unchanged/);
    expect(await redis.keys(`${queuePrefix}:*repeat*`)).toEqual([]);
  });
});
