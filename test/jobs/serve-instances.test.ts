import { join } from "node:path";
import { QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { BackupResult } from "../../src/engine/types";
import { openQueues, type HavenQueues } from "../../src/jobs/queues";
import { configYaml, uniquePrefix } from "./helpers/config";
import { spawnTsChild, type TsChild } from "./helpers/child";
import { connectTestRedis, deleteKeys } from "./helpers/redis";

const prefix = uniquePrefix("serve");
let redis: Redis;
let queues: HavenQueues;
let events: QueueEvents;
let eventsConnection: Redis;
const children: TsChild[] = [];

beforeAll(async () => {
  redis = await connectTestRedis();
  queues = openQueues(redis, { prefix });
  // From the start of the (new, per-test) event stream, so no completion is missed.
  eventsConnection = redis.duplicate();
  events = new QueueEvents("backup", { connection: eventsConnection, prefix, lastEventId: "0-0" });
  await events.waitUntilReady();
});

afterAll(async () => {
  await Promise.all(children.map((child) => child.stop("SIGKILL")));
  await events.close();
  eventsConnection.disconnect();
  await queues.close();
  await deleteKeys(redis, prefix);
  await redis.quit();
});

test("two serve instances on one prefix never run the same scheduled iteration twice", async () => {
  const config = configYaml({ targets: { "every-second": { schedule: { daily: "*/1 * * * * *" } } } });
  const completions = new Map<string, BackupResult>();
  const enough = new Promise<void>((resolve) => {
    events.on("completed", ({ jobId, returnvalue }) => {
      completions.set(jobId, returnvalue as BackupResult);
      if (completions.size >= 4) resolve();
    });
  });

  for (let i = 0; i < 2; i++) {
    children.push(
      spawnTsChild(join(__dirname, "helpers", "serve-instance.ts"), {
        HAVEN_TEST_PREFIX: prefix,
        HAVEN_TEST_CONFIG: config,
      }),
    );
  }
  await Promise.all(children.map((child) => child.waitForLine("ready")));
  await enough;
  // SIGTERM: each instance closes its workers and exits 0.
  expect(await Promise.all(children.map((child) => child.stop("SIGTERM")))).toEqual([0, 0]);

  // Both reconciled the same single scheduler.
  expect((await queues.backup.getJobSchedulers()).map((s) => s.key)).toEqual(["backup:every-second:daily"]);

  const runs = (await redis.lrange(`${prefix}:test:runs`, 0, -1)).map(
    (line) => JSON.parse(line) as { job: string; scheduledAt: string; by: string },
  );
  const perIteration = new Map<string, number>();
  for (const run of runs) perIteration.set(run.scheduledAt, (perIteration.get(run.scheduledAt) ?? 0) + 1);

  expect(perIteration.size).toBeGreaterThanOrEqual(4);
  for (const [scheduledAt, count] of perIteration)
    expect({ scheduledAt, count }).toEqual({ scheduledAt, count: 1 });
  // One job per iteration (the job id carries the scheduled time) and none skipped on the lock,
  // which a second job for the same iteration would have been.
  for (const run of runs)
    expect(run.job).toBe(`repeat:backup:every-second:daily:${Date.parse(run.scheduledAt)}`);
  expect(
    [...completions.values()].map((result) => result.state).every((state) => state === "committed"),
  ).toBe(true);
  // Iterations are whole seconds apart: the 6-field cron's own schedule, not a double firing.
  const times = [...perIteration.keys()].map((t) => Date.parse(t)).sort((a, b) => a - b);
  for (const time of times) expect(time % 1000).toBe(0);
  expect(new Set(times).size).toBe(times.length);
});
