/**
 * `haven prune` as an operator runs it: the command from src/cli/commands/prune.ts under a root
 * program with the global options, a config file on disk, s3rver, and the target locks in Redis.
 */
import { Command } from "commander";
import type { Redis } from "ioredis";
import { rm } from "node:fs/promises";
import { connectRedis } from "../../src/jobs/connection";
import { withTargetLock } from "../../src/jobs/lock";
import { HavenError } from "../../src/lib/errors";
import { createLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { Secret } from "../../src/lib/secret";
import { pruneCommand } from "../../src/cli/commands/prune";
import type { PruneReportJson } from "../../src/prune";
import { createStorage } from "../../src/storage";
import type { StorageBackend } from "../../src/storage/types";
import { tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";
import { configYaml, testConfig } from "./config";
import { DAY, listKeys, writeSnapshot, type FixtureSnapshot } from "./fixtures";

const bucket = uniqueName("haven-prune-cli");
const queuePrefix = uniqueName("haven-prune-cli");
const target = uniqueName("db");
const gone = uniqueName("gone");
let s3: S3rverHandle;
let redis: Redis;
let dir: string;
let configFile: string;
let storage: StorageBackend;

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  redis = await connectRedis(new Secret(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"), {
    role: "client",
  });
  dir = await tempDir("haven-prune-cli");
  const spec = {
    destinations: { primary: { type: "s3" as const, endpoint: s3.endpoint, bucket, prefix: "prod/" } },
    targets: { [target]: { destinations: ["primary"], retention: "{ daily: 4 }" } },
    queuePrefix,
  };
  configFile = await writeConfigFile(dir, configYaml(spec));
  const config = testConfig(spec);
  storage = createStorage(config.destinations.primary!, createLogger({ level: "silent" }), {
    retry: { baseDelayMs: 10 },
  });
});

afterAll(async () => {
  const keys = await redis.keys(`${queuePrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await storage?.close();
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `haven -c FILE <args>` in this process; stdout is captured, the command's error returned. */
async function haven(...args: string[]): Promise<{ stdout: string; error?: HavenError }> {
  const program = new Command("haven")
    .option("-c, --config <file>")
    .option("--log-level <level>", "", "silent")
    .exitOverride();
  program.addCommand(pruneCommand().exitOverride());
  let stdout = "";
  const spy = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  try {
    await program.parseAsync(["-c", configFile, ...args], { from: "user" });
    return { stdout };
  } catch (error) {
    if (!(error instanceof HavenError)) throw error;
    return { stdout, error };
  } finally {
    spy.mockRestore();
  }
}

/** Six daily snapshots, 1 to 6 days ago at 02:00 UTC: `daily: 4` keeps the newest four. */
async function sixDays(): Promise<FixtureSnapshot[]> {
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate(), 2);
  const out: FixtureSnapshot[] = [];
  for (let days = 6; days >= 1; days--)
    out.push(await writeSnapshot(storage, target, new Date(today - days * DAY)));
  return out; // oldest first
}

test("haven prune --dry-run -o json lists the decisions; haven prune removes exactly those", async () => {
  const snapshots = await sixDays();
  const before = await listKeys(storage, `${target}/`);

  const dry = await haven("prune", target, "--dry-run", "-o", "json");
  expect(dry.error).toBeUndefined();
  const json = JSON.parse(dry.stdout) as PruneReportJson;
  expect(json.dryRun).toBe(true);
  expect(json.results[0]?.remove?.map((e) => e.id)).toEqual([snapshots[1]!.id, snapshots[0]!.id]);
  expect(json.results[0]?.keep?.map((e) => e.id)).toEqual(
    snapshots
      .slice(2)
      .reverse()
      .map((s) => s.id),
  );
  expect(await listKeys(storage, `${target}/`)).toEqual(before);

  const table = await haven("prune", target, "--dry-run");
  expect(table.stdout).toContain(`== ${target} on primary (dry run: nothing removed)`);
  expect(table.stdout).toMatch(
    new RegExp(`${snapshots[0]!.id}\\s+\\S+ \\S+ \\+00:00\\s+daily\\s+remove\\s+no rule keeps it`),
  );

  const run = await haven("prune", target, "-o", "json");
  expect(run.error).toBeUndefined();
  expect((JSON.parse(run.stdout) as PruneReportJson).results[0]?.removed).toEqual([
    snapshots[1]!.id,
    snapshots[0]!.id,
  ]);
  const gone = new Set([...snapshots[0]!.keys, ...snapshots[1]!.keys]);
  expect(await listKeys(storage, `${target}/`)).toEqual(before.filter((key) => !gone.has(key)));
  // The prune is audited in the bucket, beside the snapshots it removed.
  expect((await listKeys(storage, "_audit/")).length).toBeGreaterThan(0);
});

test("orphans are reported by haven prune and removed by haven prune --orphans; a held lock exits 11", async () => {
  const orphan = await writeSnapshot(storage, gone, new Date(Date.now() - 100 * DAY));
  const report = await haven("prune");
  expect(report.error).toBeUndefined();
  expect(report.stdout).toContain(
    `== orphan ${gone} on primary: 1 snapshots of a target that is not in the config`,
  );
  expect(report.stdout).toContain("kept (remove them with: haven prune --orphans)");
  expect(await listKeys(storage, `${gone}/`)).toEqual(orphan.keys.slice().sort());

  const locked = await withTargetLock(redis, target, 60_000, () => haven("prune"), { prefix: queuePrefix });
  expect(locked.error).toMatchObject({ code: "LOCKED", exitCode: 11 });

  const removed = await haven("prune", "--orphans");
  expect(removed.error).toBeUndefined();
  expect(removed.stdout).toContain("removed 1");
  expect(await listKeys(storage, `${gone}/`)).toEqual([]);
});
