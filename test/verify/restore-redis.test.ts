/**
 * Restore tests of a redis target. The source is a private redis-server on a free port (the shared
 * 6379 is never touched); the snapshot is loaded into a scratch redis-server, its keys counted against
 * the manifest, and the scratch server stopped afterwards, also when cancelled.
 */
import { Redis } from "ioredis";
import { spawn } from "node:child_process";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { PrivateDir } from "../../src/targets/process";
import { startRedisServer, type RedisServerHandle } from "../../src/targets/redis/scratch";
import { runRestoreTest } from "../../src/verify/restore-test";
import { childrenOf, uniqueName } from "../helpers/db";
import { tempDir } from "../helpers/s3-config";
import {
  backup,
  check,
  context,
  expectMeasured,
  filesystemDestination,
  LONG_AGO,
  readRecord,
  scratchStamp,
  verifyConfig,
} from "./helpers";

const target = uniqueName("vredis");
let source: RedisServerHandle;
let work: string;

function config(verify: string[] = []): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: redis",
    "  host: 127.0.0.1",
    `  port: ${source.port}`,
    ...(verify.length > 0 ? ["  verify:", ...verify.map((l) => `    ${l}`)] : []),
  ]);
}

/** redis-server processes started by this test process (the source and any scratch server). */
async function redisServers(): Promise<number> {
  return (await childrenOf()).filter((c) => c.comm === "redis-server").length;
}

beforeAll(async () => {
  work = await tempDir("haven-verify-redis");
  await mkdir(join(work, "destination")); // the destination's root: Haven never creates it
  source = await startRedisServer({ config: ["repl-diskless-sync-delay 0"] });
  const client = new Redis({ host: "127.0.0.1", port: source.port, lazyConnect: true });
  await client.connect();
  const bulk = client.pipeline();
  for (let i = 0; i < 2000; i++) bulk.set(`key:${i}`, `value ${i} ${"x".repeat(2000)}`);
  bulk.select(2);
  bulk.hset("other-db", { a: "1" });
  await bulk.exec();
  client.disconnect();
  await backup(config(), target);
}, 60_000);

afterAll(async () => {
  await source?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test("passes: the scratch server holds every key of the snapshot, and is stopped afterwards", async () => {
  const cfg = config(["checks:", "  - { sql: select 1 }"]);
  const result = await runRestoreTest(cfg, { target }, context());
  const stored = await readRecord(cfg, result.recordKey);
  expectMeasured(stored);
  expect(check(stored, "keys")).toMatchObject({ ok: true, expected: 2001, actual: 2001 });
  // A sql check cannot run against Redis: it fails and says so, and only it fails.
  expect(check(stored, "sql: select 1")).toMatchObject({ ok: false });
  expect(stored.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["sql: select 1"]);
  expect(await redisServers()).toBe(1);
});

test("without YAML checks it passes", async () => {
  const result = await runRestoreTest(config(), { target }, context());
  expect(result.result).toBe("passed");
  expect(await redisServers()).toBe(1);
});

test("cancelled while the RDB streams in: no scratch server remains", async () => {
  const controller = new AbortController();
  const ctx = { ...context(controller.signal), onProgress: () => controller.abort(new Error("^C")) };
  const error = await runRestoreTest(config(), { target }, ctx).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isHavenError(error, "CANCELLED")).toBe(true);
  expect(await redisServers()).toBe(1);
});

test("a restore test first stops this target's crashed scratch servers and removes their dirs, nothing else", async () => {
  const prefix = `haven-redis-scratch-${target}-`;
  /** A server in a directory named as a restore test names it, as its test left it: running. */
  const serverIn = async (name: string) => startRedisServer({}, await PrivateDir.create(name));
  const crashed = await serverIn(`${prefix}${scratchStamp(LONG_AGO())}`);
  // Another worker's test of the same target, still running: young, so it stays.
  const running = await serverIn(`${prefix}${scratchStamp(new Date(Date.now() - 3600_000))}`);
  // Target "<this>-eu": its prefix starts with this one's.
  const otherTarget = await serverIn(`${prefix}eu-${scratchStamp(LONG_AGO())}`);
  // A crashed test's directory whose pid the system has since given to another program, even one
  // working in that directory: it is no redis-server, so it is not signalled; the directory goes.
  const recycled = await PrivateDir.create(`${prefix}${scratchStamp(LONG_AGO())}`);
  const unrelated = spawn("sleep", ["60"], { cwd: recycled.path, stdio: "ignore" });
  await writeFile(recycled.file("redis-server.pid"), `${unrelated.pid}\n`);
  try {
    const result = await runRestoreTest(config(), { target }, context());
    expect(result.result).toBe("passed");
    await expect(crashed.keyspace()).rejects.toThrow();
    await expect(stat(crashed.dir)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(stat(recycled.path)).rejects.toMatchObject({ code: "ENOENT" });
    expect(unrelated.exitCode).toBeNull();
    expect(unrelated.signalCode).toBeNull();
    for (const kept of [running, otherTarget]) {
      expect(await kept.keyspace()).toEqual({});
      expect((await stat(kept.dir)).isDirectory()).toBe(true);
    }
  } finally {
    unrelated.kill();
    await Promise.all([crashed, running, otherTarget].map((server) => server.stop()));
    await recycled.remove();
  }
});
