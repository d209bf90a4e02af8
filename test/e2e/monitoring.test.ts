/**
 * Issue 4 acceptance through the running pieces: a flipped byte fails verification, the watchdog
 * (the same Monitor `serve` runs) raises one incident by email and webhook, and a new good snapshot,
 * verified, resolves it; `haven status -o json` reports a breach with exit 3.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, readdir, writeFile, mkdir } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Redis } from "ioredis";
import { Monitor } from "../../src/app/monitoring";
import { createProcessors } from "../../src/app/processors";
import { layout, newSnapshotId } from "../../src/catalog/layout";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { runBackup } from "../../src/engine/backup";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { runVerification } from "../../src/verify/run";
import {
  startSmtpReceiver,
  startWebhookReceiver,
  type SmtpReceiver,
  type WebhookReceiver,
} from "../alerts/receivers";
import { runCli } from "../helpers/cli";
import { tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";

const smtpPassword = `pw-${randomBytes(6).toString("hex")}`;
const prefix = uniqueName("haven-e2e-mon");
let smtp: SmtpReceiver;
let webhook: WebhookReceiver;
let redis: Redis;
let work: string;
let config: HavenConfig;
let configPath: string;
const ctx = () => ({ logger: silentLogger, signal: new AbortController().signal });

beforeAll(async () => {
  smtp = await startSmtpReceiver({ user: "haven", password: smtpPassword });
  webhook = await startWebhookReceiver();
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  work = await tempDir("haven-e2e-mon");
  await mkdir(join(work, "nas")); // the destination's root: Haven never creates it
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "a.txt"), "alpha\n".repeat(1000));
  await writeFile(join(work, "smtp-password"), smtpPassword);
  configPath = await writeConfigFile(
    work,
    `
redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}
queuePrefix: ${prefix}
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
defaults: { destinations: [nas], verify: { kind: integrity } }
targets:
  share: { type: files, path: ${join(work, "share")}, rpo: 1h }
  stale: { type: files, path: ${join(work, "share")}, rpo: 1h, verify: { schedule: "0 * * * *" } }
alerts:
  repeat: 4h
  email:
    smtp: { host: 127.0.0.1, port: ${smtp.port}, user: haven, passwordFile: smtp-password, tls: { rejectUnauthorized: false } }
    from: haven@example.com
    to: [ops@example.com]
  webhooks: [ { url: "${webhook.url}/hook", format: slack } ]
`,
  );
  config = parseConfigText(readFileSync(configPath, "utf8"), configPath);
  // "stale": its only snapshot finished two days ago, far past its 1h RPO.
  const storage = createStorage(config.destinations.nas!, silentLogger);
  const old = new Date(Date.now() - 2 * 86_400_000);
  const first = await runBackup(config, { target: "share", tier: "manual", requestedBy: "test" }, ctx());
  const manifest = JSON.parse(
    await text(await storage.get(layout.manifest("share", first.snapshotId!))),
  ) as object;
  await putStaleCopy(storage, manifest, old);
  await storage.close();
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await smtp.close();
  await webhook.close();
});

async function flipOneByte(dir: string): Promise<string> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.includes("data.tar"));
  const path = join(dir, files.at(-1)!);
  const handle = await open(path, "r+");
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, 100);
  byte[0] = byte[0]! ^ 0xff;
  await handle.write(byte, 0, 1, 100);
  await handle.close();
  return files.at(-1)!;
}

test("a flipped byte fails verification, alerts once by email and webhook (with an RPO breach: no good backup is left), and a good verified snapshot resolves both", async () => {
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    const good = await runVerification(config, { target: "share" }, ctx());
    expect(good).toMatchObject({ result: "passed" });
    await monitor.watchdog(["share"]);
    expect(smtp.messages.filter((m) => m.subject?.includes("share"))).toHaveLength(0);

    const flipped = await flipOneByte(join(work, "nas"));
    const bad = await runVerification(config, { target: "share" }, ctx());
    expect(bad.result).toBe("failed");
    expect(JSON.stringify(bad.checks)).toContain(flipped.split("/").at(-1));
    await monitor.watchdog(["share"]);
    await monitor.watchdog(["share"]); // within the repeat interval: no second notice
    // The only snapshot is proven damaged, so share has no good backup: its RPO is breached too.
    const opened = smtp.messages.filter((m) => m.subject?.includes("share"));
    expect(opened.map((m) => m.subject).sort()).toEqual([
      "[haven] RPO breached: share",
      "[haven] Verification failed: share",
    ]);
    expect(opened.find((m) => m.subject?.includes("RPO"))?.text).toContain("failed its verification");
    expect(webhook.requests.filter((r) => r.body.includes("share"))).toHaveLength(2);
    expect(JSON.parse(webhook.requests.at(-1)!.body)).toHaveProperty("blocks");

    const fresh = await runBackup(config, { target: "share", tier: "manual", requestedBy: "test" }, ctx());
    expect(fresh.state).toBe("committed");
    // The whole record on failure, so a flake shows which check failed.
    const again = await runVerification(config, { target: "share" }, ctx());
    expect(again.result === "passed" ? again.result : JSON.stringify(again, null, 1)).toBe("passed");
    await monitor.watchdog(["share"]);
    const resolved = smtp.messages.filter((m) => m.subject?.includes("share")).slice(2);
    expect(resolved.map((m) => m.subject).sort()).toEqual([
      "[haven] Resolved: RPO breached: share",
      "[haven] Resolved: Verification failed: share",
    ]);
  } finally {
    await monitor.close();
  }
});

test("the watchdog raises an RPO breach and missed verifications for a stale target; haven status -o json says breached and exits 3", async () => {
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    await monitor.watchdog(["stale"]);
    expect(smtp.messages.some((m) => m.subject?.includes("RPO breached: stale"))).toBe(true);
    // Its hourly verify schedule fired for two days and left no record.
    expect(smtp.messages.some((m) => m.subject?.includes("Scheduled verification missed: stale"))).toBe(true);
  } finally {
    await monitor.close();
  }
  const status = await runCli(["-c", configPath, "status", "-o", "json"]);
  expect(status.code).toBe(3);
  const rows = JSON.parse(status.stdout).targets as Array<{
    target: string;
    rpo: string;
    status: string;
    missedVerifications: number;
  }>;
  expect(rows.find((r) => r.target === "stale")).toMatchObject({ rpo: "breached", status: "breached" });
  expect(rows.find((r) => r.target === "stale")?.missedVerifications).toBeGreaterThan(30);
  expect(rows.find((r) => r.target === "share")?.rpo).toBe("ok");
});

/** A job context for calling the processors directly, as a worker would. */
function jobCtx(queue: "maintenance" | "report") {
  return {
    ...ctx(),
    onProgress: () => undefined,
    reportProgress: () => undefined,
    job: { id: `test-${queue}`, queue, attempt: 1, maxAttempts: 1 },
  };
}

test("a scheduled prune that would remove too much is refused, removes nothing, alerts once; a prune that runs resolves it", async () => {
  const storage = createStorage(config.destinations.nas!, silentLogger);
  const manifest = JSON.parse(
    await text(await storage.get(layout.manifest("share", (await firstSnapshotId(storage, "share"))!))),
  ) as object;
  // Six snapshots of one day three years ago: retention keeps the newest of that day and removes
  // five of the target's seven snapshots, more than the default maxRemoveShare (50 %).
  const ancient: string[] = [];
  for (const hour of [1, 2, 3, 4, 5, 6]) {
    const at = new Date(Date.UTC(new Date().getUTCFullYear() - 3, 0, 10, hour));
    ancient.push(await putStaleCopy(storage, manifest, at));
  }
  const listStale = async () => {
    const ids: string[] = [];
    for await (const o of storage.list("stale/"))
      if (o.key.endsWith("/manifest.json")) ids.push(o.key.split("/")[1]!);
    return ids.sort();
  };
  const before = await listStale();
  expect(before).toHaveLength(7);
  const subjects = () =>
    smtp.messages.map((m) => m.subject ?? "").filter((s) => s.includes("Prune refused: stale"));

  const monitor = new Monitor(config, redis, silentLogger);
  try {
    const processors = createProcessors(config, monitor, redis);
    const cleanup = () =>
      processors.maintenance!({ kind: "cleanup", requestedBy: "test" }, jobCtx("maintenance"));
    // The job fails REFUSED (not retried), and says why.
    await expect(cleanup()).rejects.toThrow(/would delete 5 of 7 snapshots of stale .*refusing/);
    await expect(cleanup()).rejects.toThrow(/refusing/); // still refused: no second notice
    expect(await listStale()).toEqual(before);
    expect(subjects()).toHaveLength(1);
    expect(webhook.requests.filter((r) => r.body.includes("Prune refused")).length).toBe(1);

    // The operator agrees with the removals and lifts the guard rail: the prune runs and resolves it.
    const lifted: HavenConfig = { ...config, defaults: { ...config.defaults, maxRemoveShare: 1 } };
    await createProcessors(lifted, monitor, redis).maintenance!(
      { kind: "cleanup", requestedBy: "test" },
      jobCtx("maintenance"),
    );
    expect(await listStale()).toEqual(before.filter((id) => !ancient.slice(0, 5).includes(id)));
    expect(subjects()).toHaveLength(2);
    expect(subjects()[1]).toMatch(/Resolved/i);
  } finally {
    await monitor.close();
    await storage.close();
  }
});

test("a monthly report that cannot be delivered raises an alert", async () => {
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    // This config has no reports.monthly.to: the report run fails before sending anything.
    await expect(
      createProcessors(config, monitor, redis).report!(
        { kind: "monthly", requestedBy: "test" },
        jobCtx("report"),
      ),
    ).rejects.toThrow(/no recipients for the monthly report/);
    const notices = smtp.messages.filter((m) => m.subject?.includes("Monthly report not delivered"));
    expect(notices).toHaveLength(1);
    expect(notices[0]!.text).toContain("haven report --month");
  } finally {
    await monitor.close();
  }
});

async function firstSnapshotId(
  storage: ReturnType<typeof createStorage>,
  target: string,
): Promise<string | undefined> {
  for await (const o of storage.list(`${target}/`))
    if (o.key.endsWith("/manifest.json")) return o.key.split("/")[1];
  return undefined;
}

/** A manifest of "stale" taken at `at`: a copy of a real one, so its payload exists and reads back. */
async function putStaleCopy(
  storage: ReturnType<typeof createStorage>,
  manifest: object,
  at: Date,
): Promise<string> {
  const id = newSnapshotId(at);
  const { payload } = manifest as { payload: Array<{ key: string }> };
  const stale = {
    ...manifest,
    id,
    target: "stale",
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    // Its own folder's keys: readers refuse a manifest that names another snapshot's objects.
    payload: payload.map((object) => ({ ...object, key: `stale/${id}/${object.key.split("/").at(-1)!}` })),
  };
  await storage.put(layout.manifest("stale", id), Readable.from([JSON.stringify(stale)]));
  return id;
}
