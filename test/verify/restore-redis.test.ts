/**
 * Restore tests of a redis target. The source is a private redis-server on a free port (the shared
 * 6379 is never touched); the snapshot is loaded into a scratch redis-server, its keys counted against
 * the manifest, and the scratch server stopped afterwards, also when cancelled.
 */
import { Redis } from "ioredis";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
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
  readRecord,
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
