/**
 * A Redis that comes back without its data takes the job schedulers with it, the watchdog's too:
 * nothing would run or alert again until serve restarted. Serve applies them again.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { startRuntime, type RuntimeHandle } from "../../src/app/runtime";
import { parseConfigText } from "../../src/config/load";
import { openQueues, type HavenQueues } from "../../src/jobs/queues";
import { PublishedEstate } from "../../src/app/published-estate";
import { createLogger, silentLogger } from "../../src/lib/logger";
import { LogSink } from "../storage/streams";
import { configYaml, uniquePrefix } from "./helpers/config";
import { connectTestRedis, deleteKeys } from "./helpers/redis";

const prefix = uniquePrefix("schedules-lost");
let redis: Redis;
let queues: HavenQueues;
let runtime: RuntimeHandle | undefined;

beforeAll(async () => {
  redis = await connectTestRedis();
  queues = openQueues(redis, { prefix });
});

afterAll(async () => {
  await runtime?.close();
  await queues.close();
  await deleteKeys(redis, prefix);
  await redis.quit();
});

async function schedulerIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const queue of [queues.backup, queues.verify, queues.maintenance])
    ids.push(...(await queue.getJobSchedulers()).map((s) => s.key));
  return ids.sort();
}

test("serve applies its schedules again when Redis lost them", async () => {
  const yaml = configYaml({ targets: { share: { schedule: { daily: "0 2 * * *" } } } });
  const config = parseConfigText(`${yaml}queuePrefix: ${prefix}\n`, "<schedules-lost-test>");
  runtime = await startRuntime(config, {
    mode: "serve",
    logger: silentLogger,
    installSignals: false,
    http: false,
    scheduleCheckMs: 100,
  });
  const applied = await schedulerIds();
  expect(applied).toEqual([
    "backup:share:daily",
    "maintenance:cleanup",
    "maintenance:watchdog",
    "verify:share",
  ]);

  // What a restart without persistence does to this installation's keys.
  await deleteKeys(redis, prefix);
  expect(await schedulerIds()).toEqual([]);

  const deadline = Date.now() + 5000;
  while ((await schedulerIds()).length < applied.length && Date.now() < deadline) await sleep(100);
  expect(await schedulerIds()).toEqual(applied);
  // And the watchdog's next pass is queued again.
  expect(await queues.maintenance.getDelayedCount()).toBeGreaterThan(0);
});

test("a serve whose schedules another serve's config replaced says so, once", async () => {
  await runtime?.close();
  runtime = undefined;
  const logs = new LogSink();
  const logger = createLogger({ level: "warn", destination: logs });
  const warned = () =>
    logs.lines.filter((l) => String(l.msg).startsWith("another serve started with a different config"));
  const yaml = configYaml({ targets: { share: { schedule: { daily: "0 2 * * *" } } } });
  const config = parseConfigText(`${yaml}queuePrefix: ${prefix}\n`, "<older-serve>");
  runtime = await startRuntime(config, {
    mode: "serve",
    logger,
    installSignals: false,
    http: false,
    scheduleCheckMs: 100,
  });
  await sleep(400);
  expect(warned()).toEqual([]);

  // A second serve starts with a config that backs up another share too.
  const newer = parseConfigText(
    `${configYaml({ targets: { share: {}, other: {} } })}queuePrefix: ${prefix}\n`,
    "<newer-serve>",
  );
  expect(newer.sha256).not.toBe(config.sha256);
  await new PublishedEstate(redis, prefix).publish(newer);

  const deadline = Date.now() + 5000;
  while (warned().length === 0 && Date.now() < deadline) await sleep(100);
  await sleep(400); // a few more checks: still one line
  expect(warned()).toEqual([expect.objectContaining({ otherSha256: newer.sha256, config: "<older-serve>" })]);
});
