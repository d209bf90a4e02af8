/**
 * A restore over a target's own data holds the target's lock, as backups do (the built CLI, real
 * Redis): while another run holds it, the restore is refused before anything is written (exit 11);
 * a restore elsewhere needs no lock; the restore releases the lock it took.
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { targetLockKey } from "../../src/jobs/lock";
import { runCli, withoutProgress } from "../helpers/cli";
import { tempDir, uniqueName, writeNasConfigFile } from "../helpers/s3-config";

const prefix = uniqueName("haven-restore-lock");
let work: string;
let configPath: string;
let redis: Redis;

beforeAll(async () => {
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  work = await tempDir("haven-restore-lock");
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "ledger.txt"), "balance: 100\n");
  configPath = await writeNasConfigFile(
    work,
    `queuePrefix: ${prefix}\ntargets:\n  share: { type: files, path: ${join(work, "share")} }\n`,
  );
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const cli = (...args: string[]) => runCli(["-c", configPath, ...args]);

test("an in-place restore is refused while another run holds the target's lock; elsewhere it runs", async () => {
  expect((await cli("backup", "share", "--direct")).code).toBe(0);
  await writeFile(join(work, "share", "ledger.txt"), "balance: 0 (damaged)\n");

  const lock = targetLockKey("share", prefix);
  await redis.set(lock, "backup-host/4242/token/", "PX", 60_000);
  const refused = await cli("restore", "share", "--yes", "--force");
  expect(refused.code).toBe(11);
  expect(refused.stderr).toContain("target share is locked by another run (held by pid 4242 on backup-host)");
  expect(readFileSync(join(work, "share", "ledger.txt"), "utf8")).toBe("balance: 0 (damaged)\n");

  const elsewhere = await cli("restore", "share", "--to", join(work, "copy"));
  expect(elsewhere.code).toBe(0);
  expect(readFileSync(join(work, "copy", "ledger.txt"), "utf8")).toBe("balance: 100\n");

  await redis.del(lock);
  const restored = await cli("restore", "share", "--yes", "--force");
  expect(withoutProgress(restored.stderr)).toBe("");
  expect(restored.code).toBe(0);
  expect(readFileSync(join(work, "share", "ledger.txt"), "utf8")).toBe("balance: 100\n");
  // The restore released its lock.
  expect(await redis.exists(lock)).toBe(0);
});
