/**
 * `haven doctor` checks the Redis that holds the queues: reachable, new enough for BullMQ, and not
 * evicting keys (an evicting Redis drops queued backups, schedulers and target locks without a word).
 */
import { once } from "node:events";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { runDoctor, type DoctorRow } from "../../src/cli/commands/doctor";
import { loadConfig } from "../../src/config/load";
import { startRedisServer, type RedisServerHandle } from "../../src/targets/redis/scratch";
import { testRun } from "../helpers/db";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

let work: string;
let evicting: RedisServerHandle;

beforeAll(async () => {
  work = await tempDir("haven-doctor-redis");
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "ledger.txt"), "data");
  evicting = await startRedisServer({ config: ["maxmemory 64mb", "maxmemory-policy allkeys-lru"] });
});

afterAll(async () => {
  await evicting.stop();
  await rm(work, { recursive: true, force: true });
});

async function doctorWithRedis(name: string, redis: string): Promise<DoctorRow[]> {
  const dir = join(work, name);
  await mkdir(dir);
  const path = await writeNasConfigFile(
    dir,
    `redis: ${redis}\ntargets:\n  share: { type: files, path: ${join(work, "share")} }\n`,
  );
  const rows = await runDoctor(await loadConfig(path), testRun().logger, AbortSignal.timeout(30_000));
  return rows.filter((row) => row.kind === "redis");
}

test("the machine's Redis passes: reachable with its version, new enough, not evicting", async () => {
  const rows = await doctorWithRedis("healthy", process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  expect(rows.map((row) => [row.check, row.ok])).toEqual([
    ["reachable", true],
    ["version", true],
    ["eviction", true],
  ]);
  expect(rows[0]?.detail).toMatch(/^redis:\/\/127\.0\.0\.1:\d+, version \d+\.\d+/);
});

test("a Redis that evicts keys fails the eviction row with the setting to change", async () => {
  const rows = await doctorWithRedis("evicting", `redis://127.0.0.1:${evicting.port}`);
  expect(rows.find((row) => row.check === "eviction")).toMatchObject({
    ok: false,
    detail: expect.stringContaining("maxmemory-policy is allkeys-lru"),
    fix: expect.stringContaining("maxmemory-policy noeviction"),
  });
  expect(rows.find((row) => row.check === "reachable")?.ok).toBe(true);
});

test("a Redis that does not answer is one failing row naming the config key, and the rest still runs", async () => {
  const dir = join(work, "down");
  await mkdir(dir);
  const path = await writeNasConfigFile(
    dir,
    `redis: redis://127.0.0.1:1\ntargets:\n  share: { type: files, path: ${join(work, "share")} }\n`,
  );
  const rows = await runDoctor(await loadConfig(path), testRun().logger, AbortSignal.timeout(30_000));
  expect(rows.filter((row) => row.kind === "redis")).toEqual([
    expect.objectContaining({ check: "reachable", ok: false, fix: expect.stringContaining("redis:") }),
  ]);
  expect(rows.filter((row) => row.name === "share").length).toBeGreaterThan(0);
  expect(rows.filter((row) => row.kind === "destination").every((row) => row.ok)).toBe(true);
});

test("a Redis that accepts the connection and never answers fails its row at the probe's deadline", async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  try {
    const dir = join(work, "silent");
    await mkdir(dir);
    const port = (silent.address() as { port: number }).port;
    const path = await writeNasConfigFile(
      dir,
      `redis: redis://127.0.0.1:${port}\ntargets:\n  share: { type: files, path: ${join(work, "share")} }\n`,
    );
    const rows = await runDoctor(await loadConfig(path), testRun().logger, AbortSignal.timeout(30_000), {
      probeTimeoutMs: 1_000,
    });
    expect(rows.filter((row) => row.kind === "redis")).toEqual([
      expect.objectContaining({ check: "probe", ok: false, detail: "no answer within 1s" }),
    ]);
    expect(rows.filter((row) => row.name === "share").every((row) => row.ok)).toBe(true);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
