/**
 * The redis adapter against a private redis-server with a password (the shared 6379 is never
 * touched): keys of every type in two databases go through an RDB snapshot into a scratch server and
 * come back with the same values and TTLs. Plus failures, the process list, restores and the probe.
 */
import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { TargetConfigOf } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { toolError, spawnTool } from "../../src/targets/process";
import { createRedisAdapter } from "../../src/targets/redis/adapter";
import { redisCliInvocation, resolveRedisConnection } from "../../src/targets/redis/connection";
import { classifyRedisStderr } from "../../src/targets/redis/errors";
import { startRedisServer, startScratchRedis, type RedisServerHandle } from "../../src/targets/redis/scratch";
import { childrenOf, collect, commonTargetFields, testRun, waitForChild } from "../helpers/db";

const password = `pw ${randomBytes(6).toString("hex")} "x"`;
let source: RedisServerHandle;
let workDir: string;

function target(overrides: Partial<TargetConfigOf<"redis">> = {}): TargetConfigOf<"redis"> {
  return {
    ...commonTargetFields("cache"),
    type: "redis",
    host: "127.0.0.1",
    port: source.port,
    password: new Secret(password),
    ...overrides,
  };
}

function client(port: number, db = 0): Redis {
  return new Redis({ host: "127.0.0.1", port, password, db, lazyConnect: true, maxRetriesPerRequest: 1 });
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "haven-redis-test-"));
  source = await startRedisServer({ password, config: ["repl-diskless-sync-delay 0"] });
  const db0 = client(source.port, 0);
  const db3 = client(source.port, 3);
  await Promise.all([db0.connect(), db3.connect()]);
  await db0.set("greeting", "héllo wörld");
  await db0.set(Buffer.from([0, 1, 255, 10]), randomBytes(100));
  await db0.set("session", "expires", "EX", 3600);
  await db0.rpush("queue", ...Array.from({ length: 1000 }, (_, i) => `job-${i}`));
  await db0.sadd("tags", "a", "b", "c");
  await db0.zadd("scores", 1, "one", 2.5, "two", -3, "minus");
  await db0.hset("user:1", { name: "Ada", email: "ada@example.com" });
  await db0.xadd("events", "*", "type", "login", "user", "1");
  // ~12 MB of incompressible values: far more than the pipes hold, so a paused reader keeps the transfer open.
  const bulk = db0.pipeline();
  for (let i = 0; i < 200; i++) bulk.set(`blob:${i}`, randomBytes(64 * 1024));
  await bulk.exec();
  await db3.set("other-db", "yes");
  await db3.hset("h", "f", "v");
  db0.disconnect();
  db3.disconnect();
});

afterAll(async () => {
  await source?.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** A key's value in a form that does not depend on the server's internal encoding or order. */
async function valueOf(redis: Redis, key: Buffer): Promise<unknown> {
  const type = await redis.type(key);
  if (type === "string") return (await redis.getBuffer(key))?.toString("hex");
  if (type === "list") return redis.lrange(key, 0, -1);
  if (type === "set") return (await redis.smembers(key)).sort();
  if (type === "zset") return redis.zrange(key, "0", "-1", "WITHSCORES");
  if (type === "hash") return Object.entries(await redis.hgetall(key)).sort();
  if (type === "stream") return redis.xrange(key, "-", "+");
  throw new Error(`unexpected type ${type}`);
}

/** Every key of a database with its type, value and whether it has a TTL. */
async function contents(port: number, db: number): Promise<Map<string, string>> {
  const redis = client(port, db);
  await redis.connect();
  try {
    const out = new Map<string, string>();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scanBuffer(cursor, "COUNT", 500);
      cursor = String(next);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        out.set(
          key.toString("hex"),
          `${await redis.type(key)} ${JSON.stringify(await valueOf(redis, key))} ttl=${ttl > 0 ? "yes" : ttl}`,
        );
      }
    } while (cursor !== "0");
    return out;
  } finally {
    redis.disconnect();
  }
}

async function firstChunk(body: Readable): Promise<Buffer> {
  for (;;) {
    const chunk = body.read() as Buffer | null;
    if (chunk) return chunk;
    await once(body, "readable");
  }
}

describe("redis adapter", () => {
  test("an RDB snapshot round trips into a scratch server: same keys, values and TTLs", async () => {
    const run = testRun();
    const stream = await createRedisAdapter(target(), run.logger).backup(run);
    expect(stream.main).toMatchObject({ name: "data", format: "rdb" });
    const [rdb, stats] = await Promise.all([collect(stream.main.body), stream.done]);
    expect(rdb.subarray(0, 5).toString()).toBe("REDIS");
    expect(rdb[rdb.length - 9]).toBe(0xff);
    expect(stats.keys).toBe(210);
    expect(stats.keyspace).toEqual({ db0: 208, db3: 2 });
    expect(stats.source).toMatchObject({
      server: expect.stringMatching(/^Redis \d/),
      "redis-cli": expect.stringMatching(/redis-cli/),
    });

    const scratch = await startScratchRedis(Readable.from([rdb]), { password });
    try {
      expect(await scratch.keyspace()).toEqual({ db0: 208, db3: 2 });
      for (const db of [0, 3]) {
        const expected = await contents(source.port, db);
        expect(expected.size).toBeGreaterThan(0);
        expect(await contents(scratch.port, db)).toEqual(expected);
      }
      expect((await contents(scratch.port, 0)).get(Buffer.from("session").toString("hex"))).toMatch(
        /ttl=yes$/,
      );
    } finally {
      await scratch.stop();
    }
    expect(run.logText()).not.toContain(password);
  });

  test("while redis-cli runs, its arguments hold no password", async () => {
    const run = testRun();
    const stream = await createRedisAdapter(target(), run.logger).backup(run);
    await firstChunk(stream.main.body);
    const cli = await waitForChild("redis-cli");
    expect(cli.cmdline).toMatch(/redis-cli -h 127\.0\.0\.1 -p \d+ --no-auth-warning --rdb -/);
    expect(cli.cmdline).not.toContain(password);
    stream.main.body.resume();
    await stream.done;
  });

  test("a wrong password is CREDENTIALS, from the client and from redis-cli alike", async () => {
    const wrong = "wrong-Redis-pass";
    const run = testRun();
    const adapter = createRedisAdapter(target({ password: new Secret(wrong) }), run.logger);
    const error: unknown = await adapter.backup(run).catch((e: unknown) => e);
    expect(isHavenError(error, "CREDENTIALS")).toBe(true);
    const probe = await adapter.probe(new AbortController().signal);
    expect(probe.checks.find((c) => c.name === "connection")).toMatchObject({ ok: false });
    for (const text of [String(error), JSON.stringify(probe), run.logText()])
      expect(text).not.toContain(wrong);

    const { args, env } = redisCliInvocation(resolveRedisConnection(target({ password: new Secret(wrong) })));
    const cli = spawnTool({ command: "redis-cli", args: [...args, "--rdb", "-"], env, secrets: [wrong] });
    cli.stdout?.resume();
    const exit = await cli.exit;
    expect(toolError("redis-cli", exit, classifyRedisStderr).code).toBe("CREDENTIALS");
  });

  test("redis-cli killed half way rejects done and fails the stream", async () => {
    const stream = await createRedisAdapter(target(), testRun().logger).backup(testRun());
    await firstChunk(stream.main.body);
    const cli = await waitForChild("redis-cli");
    process.kill(cli.pid, "SIGKILL");
    const error: unknown = await stream.done.catch((e: unknown) => e);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/redis-cli was killed by SIGKILL/);
    await expect(collect(stream.main.body)).rejects.toBe(error);
  });

  test("aborting the run kills redis-cli and rejects done with CANCELLED", async () => {
    const controller = new AbortController();
    const stream = await createRedisAdapter(target(), testRun().logger).backup(testRun(controller.signal));
    await firstChunk(stream.main.body);
    await waitForChild("redis-cli");
    controller.abort();
    await expect(stream.done).rejects.toMatchObject({ code: "CANCELLED" });
    expect((await childrenOf()).filter((c) => c.comm === "redis-cli")).toEqual([]);
  });

  test("restore: to a file (no overwrite without consent); to the original is refused with the procedure", async () => {
    const adapter = createRedisAdapter(target(), testRun().logger);
    const stream = await adapter.backup(testRun());
    const [rdb] = await Promise.all([collect(stream.main.body), stream.done]);
    const path = join(workDir, "dump.rdb");
    expect(await adapter.restore(Readable.from([rdb]), { kind: "path", path }, testRun())).toEqual({
      bytes: rdb.length,
      path,
    });
    expect((await readFile(path)).equals(rdb)).toBe(true);
    await expect(
      adapter.restore(Readable.from([rdb]), { kind: "path", path }, testRun()),
    ).rejects.toMatchObject({
      code: "REFUSED",
    });
    await writeFile(path, "old");
    await adapter.restore(Readable.from([rdb]), { kind: "path", path }, testRun(), { force: true });
    expect((await readFile(path)).equals(rdb)).toBe(true);

    const original = Readable.from([rdb]);
    const error: unknown = await adapter
      .restore(original, { kind: "original" }, testRun())
      .catch((e: unknown) => e);
    expect(isHavenError(error, "REFUSED")).toBe(true);
    expect(isHavenError(error) && error.hint).toMatch(/CONFIG GET dir.*appendonly/s);
    expect(original.destroyed).toBe(true);
  });

  test("a truncated RDB is refused: by a file restore and by a scratch server", async () => {
    const stream = await createRedisAdapter(target(), testRun().logger).backup(testRun());
    const [rdb] = await Promise.all([collect(stream.main.body), stream.done]);
    const cut = rdb.subarray(0, rdb.length - 1000);
    const path = join(workDir, "cut.rdb");
    const adapter = createRedisAdapter(target(), testRun().logger);
    await expect(adapter.restore(Readable.from([cut]), { kind: "path", path }, testRun())).rejects.toThrow(
      /not valid/,
    );
    await expect(readFile(path)).rejects.toMatchObject({ code: "ENOENT" });
    await expect(startScratchRedis(Readable.from([cut]))).rejects.toMatchObject({ code: "INTEGRITY" });
  });

  test("an RDB newer than this redis-server is not called damaged: the snapshot is fine, the server is old", async () => {
    const stream = await createRedisAdapter(target(), testRun().logger).backup(testRun());
    const [rdb] = await Promise.all([collect(stream.main.body), stream.done]);
    // As a newer Redis writes it: a higher format version, and a checksum that matches again.
    const newer = Buffer.from(rdb);
    newer.write("99", 7, "latin1");
    const { crc_64_redis } = await import("js-crc/models");
    const crc = crc_64_redis.create();
    crc.update(newer.subarray(0, newer.length - 8));
    Buffer.from(crc.array())
      .reverse()
      .copy(newer, newer.length - 8);
    const error: unknown = await startScratchRedis(Readable.from([newer])).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PERMANENT" });
    expect((error as Error).message).toMatch(/RDB format version/);
  });

  test("an RDB damaged inside an intact frame is refused by its checksum", async () => {
    const stream = await createRedisAdapter(target(), testRun().logger).backup(testRun());
    const [rdb] = await Promise.all([collect(stream.main.body), stream.done]);
    const flipped = Buffer.from(rdb);
    const middle = Math.floor(flipped.length / 2);
    flipped[middle] = (flipped[middle] ?? 0) ^ 0x01;
    const path = join(workDir, "flipped.rdb");
    const adapter = createRedisAdapter(target(), testRun().logger);
    // Chunked as a restore delivers it, so the checksum runs across chunk boundaries.
    const chunks = (data: Buffer) =>
      Readable.from([data.subarray(0, 100), data.subarray(100, middle + 7), data.subarray(middle + 7)]);
    await expect(adapter.restore(chunks(flipped), { kind: "path", path }, testRun())).rejects.toThrow(
      /checksum does not match/,
    );
    await expect(readFile(path)).rejects.toMatchObject({ code: "ENOENT" });
    await adapter.restore(chunks(rdb), { kind: "path", path }, testRun());
    expect((await readFile(path)).equals(rdb)).toBe(true);
  });

  test("probe: good target all ok; an unreachable one says how to fix it", async () => {
    const good = await createRedisAdapter(target(), testRun().logger).probe(new AbortController().signal);
    expect(good.checks.map((c) => [c.name, c.ok])).toEqual([
      ["redis-cli", true],
      ["connection", true],
      ["permissions", true],
    ]);
    expect(good.ok).toBe(true);
    const down = await createRedisAdapter(target({ port: 1 }), testRun().logger).probe(
      new AbortController().signal,
    );
    expect(down.ok).toBe(false);
    expect(down.checks.find((c) => c.name === "connection")?.hint).toMatch(/reachable/);
  });

  test("a url parameter ioredis and redis-cli would not get is a config error", () => {
    expect(() =>
      resolveRedisConnection(target({ url: new Secret("redis://:s3cret@h:6379?tls=true") })),
    ).toThrow(/url parameter tls would be ignored \(a redis url takes none\)/);
    const fromUrl = { host: undefined, port: undefined, url: new Secret("rediss://h:6380") };
    expect(resolveRedisConnection(target(fromUrl))).toMatchObject({
      host: "h",
      port: 6380,
      tls: { rejectUnauthorized: true },
    });
  });

  test("recipe writes the RDB file with standard tools", () => {
    const recipe = createRedisAdapter(target(), testRun().logger).recipe({
      key: "cache/20260101T000000Z-00000000/data.rdb.zst",
      compression: "zstd",
      encrypted: false,
    });
    expect(recipe).toContain("zstd -dc data.rdb.zst > dump.rdb");
  });
});
