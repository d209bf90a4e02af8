/**
 * `haven status` judges a target that has never had a snapshot as the watchdog does: from when Haven
 * first saw it (`<prefix>:slo:first-seen` in Redis) + its RPO, not as breached at once. Real CLI
 * (dist/), real Redis, a filesystem destination.
 */
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { parseConfigText } from "../../src/config/load";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { runCli } from "../helpers/cli";
import { writeSnapshot, writeVerification } from "../slo/destination";
import { tempDir, uniqueName, writeNasConfigFile } from "../helpers/s3-config";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  await redis.quit();
});

interface StatusRow {
  target: string;
  status: string;
  rpo: string;
  newestSnapshot: string | null;
  newestAgeMs: number | null;
}

async function statusConfig(redisUrl: string, prefix: string): Promise<string> {
  const work = await tempDir("haven-status");
  return writeNasConfigFile(
    work,
    `redis: ${redisUrl}
queuePrefix: ${prefix}
targets:
  fresh: { type: files, path: /srv/fresh, rpo: 1d }
  forgotten: { type: files, path: /srv/forgotten, rpo: 1d }
`,
  );
}

test("a target first seen by the watchdog within its RPO is not breached; one seen longer ago is", async () => {
  const prefix = uniqueName("haven-status");
  const configPath = await statusConfig(REDIS_URL, prefix);
  try {
    // The watchdog saw `fresh` a minute ago (added to the config today), `forgotten` two days ago.
    await redis.hset(
      `${prefix}:slo:first-seen`,
      "fresh",
      String(Date.now() - 60_000),
      "forgotten",
      String(Date.now() - 2 * 86_400_000),
    );
    const result = await runCli(["-c", configPath, "status", "-o", "json"]);
    const rows = (JSON.parse(result.stdout) as { targets: StatusRow[] }).targets;
    // Its RPO is met (grace since first seen); "unknown" is its RTO (no restore test yet), not a breach.
    expect(rows.find((r) => r.target === "fresh")).toMatchObject({
      status: "unknown",
      rpo: "ok",
      newestAgeMs: null,
    });
    expect(rows.find((r) => r.target === "forgotten")).toMatchObject({ status: "breached", rpo: "breached" });
    expect(result.code).toBe(3); // `forgotten` is breached
    // JSON has no columns: the hint points at what the output holds.
    expect(result.stderr).toContain("each target's reasons says why");

    // The table says so in words: no age is shown for a target that never had a snapshot.
    const table = await runCli(["-c", configPath, "status"]);
    const line = (target: string) => table.stdout.split("\n").find((l) => l.startsWith(target)) ?? "";
    expect(line("fresh")).toMatch(/^fresh\s+unknown\s+never backed up\s+-\s+1d ok\s/);
    expect(line("forgotten")).toMatch(/^forgotten\s+breached\s+never backed up\s/);
  } finally {
    await redis.del(`${prefix}:slo:first-seen`);
  }
});

test("without Redis, a target never backed up counts as breached, and the output says why", async () => {
  const configPath = await statusConfig("redis://127.0.0.1:1", uniqueName("haven-status"));
  const result = await runCli(["-c", configPath, "status"]);
  expect(result.code).toBe(3);
  const fresh = result.stdout.split("\n").find((l) => l.startsWith("fresh")) ?? "";
  expect(fresh).toMatch(/^fresh\s+breached\s+never backed up\s/);
  expect(result.stdout).toMatch(
    /Redis did not answer: when Haven first saw fresh, forgotten is unknown, so each counts as breached until its first backup.*: start Redis, or check redis: in the config/,
  );
});

test("a target the watchdog has not seen yet counts as breached, and the output says why and what to do", async () => {
  const prefix = uniqueName("haven-status");
  const configPath = await statusConfig(REDIS_URL, prefix);
  try {
    await redis.hset(`${prefix}:slo:first-seen`, "fresh", String(Date.now() - 60_000));
    const result = await runCli(["-c", configPath, "status"]);
    expect(result.stdout).toMatch(
      /the watchdog has not seen forgotten yet, so each counts as breached until its first backup.*a serve or worker running this config/,
    );
    expect(result.stdout).not.toMatch(/seen fresh/);
  } finally {
    await redis.del(`${prefix}:slo:first-seen`);
  }
});

test("the table names the snapshot whose age it shows, not a newer damaged one", async () => {
  const prefix = uniqueName("haven-status");
  const configPath = await statusConfig(REDIS_URL, prefix);
  const config = parseConfigText(readFileSync(configPath, "utf8"), configPath);
  const storage = createStorage(config.destinations.nas!, silentLogger);
  try {
    const good = await writeSnapshot(storage, "fresh", new Date(Date.now() - 3 * 3_600_000));
    const damaged = await writeSnapshot(storage, "fresh", new Date(Date.now() - 3_600_000));
    await writeVerification(storage, damaged, new Date(Date.now() - 1_800_000), {
      kind: "integrity",
      result: "failed",
      error: { code: "INTEGRITY", message: "sha256 mismatch" },
    });
    const table = await runCli(["-c", configPath, "status"]);
    const line = table.stdout.split("\n").find((l) => l.startsWith("fresh")) ?? "";
    expect(line).toMatch(new RegExp(`^fresh\\s+\\S+\\s+${good.id}\\s+3h`));
  } finally {
    await storage.close();
  }
});
