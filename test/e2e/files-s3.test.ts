/**
 * Issue 2 acceptance, end to end through the built CLI, real Redis and s3rver over HTTP: round trip of
 * an awkward tree, partial restore, a hostile archive, a crash mid-upload, the target lock, bad config.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pack as tarPack } from "tar-stream";
import { parseConfigText } from "../../src/config/load";
import { startRuntime, type RuntimeHandle } from "../../src/app/runtime";
import { createStorage } from "../../src/storage";
import { layout, newSnapshotId } from "../../src/catalog/layout";
import { storePayload } from "../../src/engine/store-payload";
import { MANIFEST_FORMAT_VERSION, type Manifest } from "../../src/catalog/manifest";
import { cleanupLeftovers } from "../../src/engine/maintenance";
import { targetLockKey } from "../../src/jobs/lock";
import { silentLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { compareTrees } from "../../src/lib/tree-compare";
import { makeFixtureTree, removeTree } from "../helpers/fixture-tree";
import { CLI, runCli } from "../helpers/cli";
import { connectTestRedis } from "../jobs/helpers/redis";
import { s3DestinationYaml, tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";

let s3: S3rverHandle;
let work: string;
let source: string;
let configPath: string;
let fsDestination: string;
const bucket = uniqueName("e2e-files");
/**
 * How long the lock a killed run leaves outlives it. Long enough that the CLI run right after the
 * kill (seconds of start-up on a loaded CI machine) still finds it; the test then waits for the key
 * to expire rather than sleeping for the whole TTL.
 */
const LOCK_TTL_MS = 10_000;
const queuePrefix = uniqueName("haven-e2e");

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  work = await tempDir("haven-e2e-files");
  source = join(work, "share");
  fsDestination = join(work, "nas");
  await mkdir(fsDestination); // the destination's root: Haven never creates it
  await makeFixtureTree(source, { bigFileBytes: 50 * 1024 * 1024 });
  await mkdir(join(work, "big"));
  await writeFile(join(work, "big", "blob.bin"), Buffer.alloc(400 * 1024 * 1024, 7));
  configPath = await writeConfigFile(
    work,
    [
      `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
      `queuePrefix: ${queuePrefix}`,
      // Short, so that the lock a killed run leaves (it takes the target lock too) expires within the test.
      `workers: { lockTtl: ${LOCK_TTL_MS / 1000}s }`,
      "destinations:",
      s3DestinationYaml(s3, bucket),
      "  nas:",
      "    type: filesystem",
      `    path: ${fsDestination}`,
      "targets:",
      "  share:",
      "    type: files",
      `    path: ${JSON.stringify(source)}`,
      "    destinations: [primary]",
      "  big:",
      "    type: files",
      `    path: ${JSON.stringify(join(work, "big"))}`,
      "    destinations: [primary]",
      "    compression: { algorithm: none }",
      "  big-nas:",
      "    type: files",
      `    path: ${JSON.stringify(join(work, "big"))}`,
      "    destinations: [nas]",
      "    compression: { algorithm: none }",
      "  hostile:",
      "    type: files",
      `    path: ${JSON.stringify(join(work, "unused"))}`,
      "    destinations: [primary]",
      "",
    ].join("\n"),
  );
}, 120_000);

afterAll(async () => {
  await s3?.stop();
  if (work) await removeTree(work);
});

const cli = (...args: string[]) => runCli(["-c", configPath, ...args]);

test("round trip: every path, type, mode, mtime, link target and byte identical; listed from the bucket", async () => {
  const backup = await cli("backup", "share", "--direct", "-o", "json");
  expect(backup.stderr).not.toMatch(/warn|error/i);
  expect(backup.code).toBe(0);
  const result = JSON.parse(backup.stdout);
  expect(result.state).toBe("committed");

  const listed = await cli("snapshots", "share", "-o", "json");
  expect(listed.code).toBe(0);
  expect((JSON.parse(listed.stdout) as Array<{ id: string }>).map((s) => s.id)).toEqual([result.snapshotId]);

  const to = join(work, "restored-whole");
  const restore = await cli("restore", "share", "--to", to);
  expect(restore.code).toBe(0);
  expect(restore.stdout).toContain(`snapshot ${result.snapshotId}`);
  expect(await compareTrees(source, to)).toEqual([]);
});

test("partial restore with --include restores only the matching paths", async () => {
  const to = join(work, "restored-partial");
  const restore = await cli("restore", "share", "--to", to, "--include", "big/**");
  expect(restore.code).toBe(0);
  expect(await readdir(to)).toEqual(["big"]);
  expect(await compareTrees(join(source, "big"), join(to, "big"))).toEqual([]);
});

test("restoring over the original needs --yes; a non-empty destination needs --force", async () => {
  const refused = await cli("restore", "share");
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain("--yes");
  // --to naming the original is in place as well.
  const toOriginal = await cli("restore", "share", "--to", source, "--force");
  expect(toOriginal.code).toBe(2);
  expect(toOriginal.stderr).toContain("--yes");
  const occupied = join(work, "occupied");
  await mkdir(occupied, { recursive: true });
  await writeFile(join(occupied, "keep.txt"), "someone's file\n");
  const nonEmpty = await cli("restore", "share", "--to", occupied);
  expect(nonEmpty.code).not.toBe(0);
  expect(nonEmpty.stderr).toContain("--force");
  expect(await readdir(occupied)).toEqual(["keep.txt"]);
});

test("a hostile archive restores nothing outside --to and reports each rejected entry", async () => {
  const storage = createStorage(
    parseConfigText(await readConfig(), configPath).destinations.primary!,
    silentLogger,
  );
  const outside = join(work, "outside");
  await mkdir(outside, { recursive: true });
  const id = newSnapshotId(new Date());
  const tar = tarPack();
  tar.entry({ name: "fine.txt" }, "ok");
  tar.entry({ name: "../evil" }, "evil");
  tar.entry({ name: join(outside, "abs-evil") }, "evil");
  tar.entry({ name: "link", type: "symlink", linkname: outside });
  tar.entry({ name: "link/through-link" }, "evil");
  tar.finalize();
  const object = await storePayload(
    { name: "data", format: "tar", body: tar as unknown as Readable },
    {
      storage,
      keyFor: (f) => layout.payload("hostile", id, f),
      compression: { algorithm: "zstd", level: 3 },
      encryption: null,
      signal: new AbortController().signal,
    },
  );
  const manifest: Manifest = {
    formatVersion: MANIFEST_FORMAT_VERSION,
    id,
    target: "hostile",
    targetType: "files",
    tiers: ["manual"],
    state: "committed",
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    source: {},
    payload: [object],
    stats: { files: 4 },
    warnings: [],
    restore: [],
    haven: { version: "test" },
  };
  await storage.put(layout.manifest("hostile", id), Readable.from([JSON.stringify(manifest)]));
  await storage.close();

  const to = join(work, "restored-hostile");
  const restore = await cli("restore", "hostile", "--to", to);
  expect(restore.code).toBe(3);
  expect(restore.stdout).toContain('rejected "../evil"');
  expect(restore.stdout).toContain(`rejected ${JSON.stringify(join(outside, "abs-evil"))}`);
  expect(restore.stdout).toContain('rejected "link/through-link"');
  expect(restore.stderr).toContain("3 entries refused for what the snapshot holds");
  expect(await readdir(outside)).toEqual([]);
  expect(existsSync(join(work, "evil"))).toBe(false);
  // The audit trail says the restore was partial, not "ok".
  const audit = await cli("audit", "-o", "json");
  expect(audit.code).toBe(0);
  const records = JSON.parse(audit.stdout) as Array<{ action: string; target?: string; outcome: string }>;
  expect(
    records.filter((r) => r.action === "restore" && r.target === "hostile").map((r) => r.outcome),
  ).toEqual(["partial"]);
});

async function readConfig() {
  const { readFile } = await import("node:fs/promises");
  return readFile(configPath, "utf8");
}

/** Starts `haven backup TARGET --direct` and SIGKILLs it once `ready()` says the upload is under way. */
async function killMidUpload(target: string, ready: () => Promise<boolean>) {
  const child = spawn(process.execPath, [CLI, "-c", configPath, "backup", target, "--direct"], {
    stdio: "ignore",
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  let killed = false;
  while (!killed && child.exitCode === null) {
    if (await ready()) {
      child.kill("SIGKILL");
      killed = true;
    } else await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(await exited).toBe("SIGKILL");
  // The dead run's target lock is no longer renewed: the next run must wait until it expires.
  const locked = await cli("backup", target, "--direct");
  expect(locked.code).toBe(11);
  await lockExpired(target);
}

async function lockExpired(target: string) {
  const redis = await connectTestRedis();
  try {
    while ((await redis.exists(targetLockKey(target, queuePrefix))) > 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    redis.disconnect();
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

test("crash: SIGKILL mid-upload leaves no listed snapshot; the next run commits; maintenance cleans leftovers (filesystem)", async () => {
  await killMidUpload("big-nas", async () =>
    (await filesUnder(fsDestination)).some((f) => f.includes(".haven-tmp")),
  );
  const listed = await cli("snapshots", "big-nas", "-o", "json");
  expect(JSON.parse(listed.stdout)).toEqual([]);

  const again = await cli("backup", "big-nas", "--direct");
  expect(again.code).toBe(0);
  expect(JSON.parse((await cli("snapshots", "big-nas", "-o", "json")).stdout)).toHaveLength(1);

  const storage = createStorage(
    { name: "nas", type: "filesystem", path: fsDestination, prefix: "" },
    silentLogger,
  );
  const report = await cleanupLeftovers(storage, {
    graceMs: 0,
    now: new Date(Date.now() + 1000),
    logger: silentLogger,
  });
  await storage.close();
  expect(report.abortedUploads.length).toBeGreaterThanOrEqual(1);
  expect((await filesUnder(fsDestination)).filter((f) => f.includes(".haven-tmp"))).toEqual([]);
  // The committed snapshot is untouched by maintenance and still restores.
  expect(JSON.parse((await cli("snapshots", "big-nas", "-o", "json")).stdout)).toHaveLength(1);
});

test("crash: SIGKILL mid-upload to S3 leaves no listed snapshot and the next run commits", async () => {
  const bucketDir = join(s3.directory, bucket);
  const before = new Set(await filesUnder(s3.directory));
  // s3rver stores multipart parts as files as they arrive: new files mean the upload is under way.
  await killMidUpload("big", async () =>
    (await filesUnder(s3.directory)).some((f) => !before.has(f) && !f.startsWith(bucketDir + "/share")),
  );
  expect(JSON.parse((await cli("snapshots", "big", "-o", "json")).stdout)).toEqual([]);
  const again = await cli("backup", "big", "--direct");
  expect(again.code).toBe(0);
  expect(JSON.parse((await cli("snapshots", "big", "-o", "json")).stdout)).toHaveLength(1);
});

describe("with a worker running", () => {
  let runtime: RuntimeHandle;
  beforeAll(async () => {
    const config = parseConfigText(await readConfig(), configPath);
    runtime = await startRuntime(config, { mode: "worker", logger: silentLogger, installSignals: false });
  });
  afterAll(async () => {
    await runtime?.queues.backup.obliterate({ force: true });
    await runtime?.close();
  });

  test("queued backup: followed to completion by the CLI", async () => {
    const queued = await cli("backup", "share", "-o", "json");
    expect(queued.code).toBe(0);
    expect(JSON.parse(queued.stdout).state).toBe("committed");
  });

  test("lock: two concurrent backups of one target: one runs, one is skipped (exit 11)", async () => {
    const [a, b] = await Promise.all([cli("backup", "big"), cli("backup", "big")]);
    expect([a.code, b.code].sort()).toEqual([0, 11]);
    expect([a.stdout, b.stdout].join("\n")).toContain("skipped big");
  });
});

test("bad config: every error with file:line:col, exit 2", async () => {
  const bad = await writeConfigFile(
    await tempDir("haven-e2e-badconfig"),
    [
      "destinations:",
      "  d: { type: filesystem, path: /tmp/x, colour: blue }",
      "targets:",
      '  t: { type: files, path: /srv, rpo: "soon", destinations: [d] }',
      "",
    ].join("\n"),
  );
  const result = await runCli(["config", "validate", "-c", bad]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(`${bad}:2:40: destinations.d.colour: unknown key`);
  expect(result.stderr).toContain(`${bad}:4:38: targets.t.rpo: not a duration`);
});
