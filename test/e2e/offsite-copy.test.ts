/**
 * Issue 5, copies through the worker's processors: with the off-site destination down, a backup still
 * commits on the primary; the copy fails and is retried by maintenance, and lands once the off-site
 * destination is back. `haven snapshots` shows on which destinations each snapshot exists.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { Monitor } from "../../src/app/monitoring";
import { createProcessors } from "../../src/app/processors";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { withTargetLock } from "../../src/jobs/lock";
import { silentLogger } from "../../src/lib/logger";
import { runCli } from "../helpers/cli";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { s3DestinationYaml, tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = uniqueName("haven-e2e-offsite");
const bucket = uniqueName("e2e-offsite");
let s3: S3rverHandle;
let redis: Redis;
let work: string;
let offsite: string;
let configPath: string;
let config: HavenConfig;

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  redis = new Redis(redisUrl);
  work = await tempDir("haven-e2e-offsite");
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "a.txt"), "alpha\n".repeat(100));
  offsite = join(work, "offsite");
  configPath = await writeConfigFile(
    work,
    [
      `redis: ${redisUrl}`,
      `queuePrefix: ${prefix}`,
      "destinations:",
      s3DestinationYaml(s3, bucket),
      "  offsite:",
      "    type: filesystem",
      `    path: ${JSON.stringify(offsite)}`,
      "targets:",
      "  share:",
      "    type: files",
      `    path: ${JSON.stringify(join(work, "share"))}`,
      "    destinations: [primary, offsite]",
      "",
    ].join("\n"),
  );
  config = parseConfigText(await readFile(configPath, "utf8"), configPath);
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const ctx = (queue: "backup" | "maintenance") => ({
  logger: silentLogger,
  signal: new AbortController().signal,
  onProgress: () => undefined,
  reportProgress: () => undefined,
  job: { id: `test-${queue}`, queue, attempt: 1, maxAttempts: 1 },
});

async function listed(expectedCode = 0): Promise<Array<{ id: string; destination: string }>> {
  const run = await runCli(["-c", configPath, "snapshots", "share", "-o", "json"]);
  expect(run.code).toBe(expectedCode);
  if (expectedCode !== 0) {
    expect(run.stderr).toContain("destination offsite could not be read");
    expect(run.stderr).toContain("the list is partial: offsite could not be read");
  }
  return JSON.parse(run.stdout) as Array<{ id: string; destination: string }>;
}

test("offsite down: the backup commits on primary, the copy waits, and lands when offsite is back", async () => {
  // "Down": the off-site path is a file, so nothing can be written below it.
  await writeFile(offsite, "not a directory");
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    const processors = createProcessors(config, monitor, redis);
    const result = await processors.backup(
      { target: "share", tier: "manual", requestedBy: "test" },
      ctx("backup"),
    );
    // The error in the failure message, should the backup on primary fail.
    expect({ ...result, error: result.error ?? null }).toMatchObject({
      state: "committed",
      destinations: ["primary"],
      error: null,
    });
    await processors.afterBackup!(
      { target: "share", tier: "manual", requestedBy: "test" },
      result,
      ctx("backup"),
    );
    // What primary holds is listed; the command fails, since offsite could not be read.
    expect((await listed(1)).map((s) => s.destination)).toEqual(["primary"]);

    // Maintenance retries the copy while offsite is still down: the job fails, naming offsite, after
    // doing what it could (prune and cleanup of primary).
    await expect(
      processors.maintenance!({ kind: "cleanup", requestedBy: "test" }, ctx("maintenance")),
    ).rejects.toThrow(/offsite/);
    expect((await listed(1)).map((s) => s.destination)).toEqual(["primary"]);

    // Back: the next maintenance run copies the snapshot, manifest last, and both list it.
    await rm(offsite);
    await mkdir(offsite);
    const back = (await processors.maintenance!(
      { kind: "cleanup", requestedBy: "test" },
      ctx("maintenance"),
    )) as { copies: { failures: string[] } };
    expect(back.copies.failures).toEqual([]);
    const rows = await listed();
    expect(rows.map((s) => s.destination).sort()).toEqual(["offsite", "primary"]);
    expect(new Set(rows.map((s) => s.id))).toEqual(new Set([result.snapshotId]));
  } finally {
    await monitor.close();
  }
});

test("an hourly cleanup that finds another still running is skipped, not run beside it", async () => {
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    const processors = createProcessors(config, monitor, redis);
    const outcome = await withTargetLock(
      redis,
      "_maintenance-cleanup",
      60_000,
      () => processors.maintenance!({ kind: "cleanup", requestedBy: "test" }, ctx("maintenance")),
      { prefix },
    );
    expect(outcome).toEqual({ skipped: "another cleanup is still running" });
  } finally {
    await monitor.close();
  }
});
