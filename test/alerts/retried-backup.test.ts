/**
 * A backup attempt that BullMQ tries again (a worker restarting mid-run, a blip) raises no
 * "backup failed": the retry usually commits, and the alert flapped open and resolved within
 * minutes. The attempt that fails for good raises it.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { Monitor } from "../../src/app/monitoring";
import { createProcessors } from "../../src/app/processors";
import { parseConfigText } from "../../src/config/load";
import { silentLogger } from "../../src/lib/logger";
import { uniquePrefix } from "../jobs/helpers/config";
import { connectTestRedis, deleteKeys } from "../jobs/helpers/redis";

const prefix = uniquePrefix("retried-backup");
let redis: Redis;
let dir: string;

beforeAll(async () => {
  redis = await connectTestRedis();
  dir = await mkdtemp(join(tmpdir(), "haven-retried-backup-"));
  await mkdir(join(dir, "nas"));
  await mkdir(join(dir, "share"));
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

/** An attempt interrupted by its worker's shutdown, as `attempt` of 4. */
function interruptedAttempt(attempt: number) {
  const shutdown = new AbortController();
  shutdown.abort(new Error("the worker shut down"));
  return {
    logger: silentLogger,
    signal: shutdown.signal,
    onProgress: () => undefined,
    reportProgress: () => undefined,
    job: { id: "repeat:backup:share:daily:1", queue: "backup" as const, attempt, maxAttempts: 4 },
  };
}

test("only the attempt that is not retried raises backup-failed", async () => {
  const config = parseConfigText(
    [
      `queuePrefix: ${prefix}`,
      `destinations: { nas: { type: filesystem, path: ${join(dir, "nas")} } }`,
      "targets:",
      `  share: { type: files, path: ${join(dir, "share")}, destinations: [nas], allowEmpty: true }`,
    ].join("\n"),
    "<retried-backup-test>",
  );
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    const { backup } = createProcessors(config, monitor, redis);
    const request = { target: "share", tier: "daily" as const, requestedBy: "scheduler" };
    const open = async () => (await monitor.incidents.openIncidents()).map((i) => i.key);

    expect((await backup(request, interruptedAttempt(1))).state).toBe("failed");
    expect(await open()).toEqual([]);

    expect((await backup(request, interruptedAttempt(4))).state).toBe("failed");
    expect(await open()).toEqual(["backup-failed:share"]);
  } finally {
    await monitor.close();
  }
});
