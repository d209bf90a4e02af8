import type { Redis } from "ioredis";
import type { HavenConfig } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { silentLogger } from "../../src/lib/logger";
import { openQueues, type HavenQueues } from "../../src/jobs/queues";
import { planSchedules, reconcileSchedules, type SchedulePlan } from "../../src/jobs/schedules";
import { testConfig, uniquePrefix, type TestConfigOptions } from "./helpers/config";
import { connectTestRedis, deleteKeys } from "./helpers/redis";

const prefix = uniquePrefix("schedules");
let redis: Redis;
let queues: HavenQueues;

beforeAll(async () => {
  redis = await connectTestRedis();
  queues = openQueues(redis, { prefix });
});

afterEach(async () => {
  // Each test starts from an empty Redis namespace.
  for (const queue of [queues.backup, queues.verify, queues.maintenance, queues.report]) {
    await queue.obliterate({ force: true });
  }
});

afterAll(async () => {
  await queues.close();
  await deleteKeys(redis, prefix);
  await redis.quit();
});

const twoTargets: TestConfigOptions = {
  timezone: "Europe/Paris",
  targets: {
    "orders-db": { schedule: { daily: "0 2 * * *", weekly: "0 3 * * 0", monthly: "0 4 1 * *" } },
    "shared-files": {
      schedule: { daily: "30 1 * * *", weekly: "30 2 * * 6", monthly: "30 3 1 * *" },
      verifySchedule: "0 7 * * 0",
    },
  },
  monthlyReport: "0 8 1 * *",
};

/** The stored schedulers of a queue as `id → pattern @ tz`. */
async function stored(queue: keyof Omit<HavenQueues, "prefix" | "close">): Promise<Record<string, string>> {
  const schedulers = await queues[queue].getJobSchedulers();
  return Object.fromEntries(schedulers.map((s) => [s.key, `${s.pattern} @ ${s.tz}`]));
}

const ids = (plan: SchedulePlan) => ({
  create: plan.create.map((s) => s.id),
  update: plan.update.map((u) => u.spec.id),
  remove: plan.remove.map((s) => s.id),
  unchanged: plan.unchanged.map((s) => s.id),
});

async function reconcile(config: HavenConfig): Promise<SchedulePlan> {
  return reconcileSchedules(config, queues, silentLogger);
}

test("a config with daily/weekly/monthly schedules for two targets yields exactly those job schedulers", async () => {
  const plan = await reconcile(testConfig(twoTargets));

  expect(await stored("backup")).toEqual({
    "backup:orders-db:daily": "0 2 * * * @ Europe/Paris",
    "backup:orders-db:weekly": "0 3 * * 0 @ Europe/Paris",
    "backup:orders-db:monthly": "0 4 1 * * @ Europe/Paris",
    "backup:shared-files:daily": "30 1 * * * @ Europe/Paris",
    "backup:shared-files:weekly": "30 2 * * 6 @ Europe/Paris",
    "backup:shared-files:monthly": "30 3 1 * * @ Europe/Paris",
  });
  expect(await stored("verify")).toEqual({
    "verify:orders-db": "0 6 * * 6 @ Europe/Paris", // the default restore-test schedule
    "verify:shared-files": "0 7 * * 0 @ Europe/Paris",
  });
  expect(await stored("maintenance")).toEqual({
    "maintenance:cleanup": "0 * * * * @ Europe/Paris",
    "maintenance:watchdog": "* * * * * @ Europe/Paris",
  });
  expect(await stored("report")).toEqual({ "report:monthly": "0 8 1 * * @ Europe/Paris" });
  expect(plan.create).toHaveLength(11);
  expect(ids(plan)).toMatchObject({ update: [], remove: [], unchanged: [] });

  // The template: job name, data and retry options, as the workers will receive them.
  const daily = await queues.backup.getJobScheduler("backup:orders-db:daily");
  expect(daily?.name).toBe("backup:orders-db:daily");
  expect(daily?.template?.data).toEqual({ target: "orders-db", tier: "daily", requestedBy: "scheduler" });
  expect(daily?.template?.opts).toMatchObject({
    attempts: 4,
    backoff: { type: "exponential", delay: 60_000 },
  });
  const watchdog = await queues.maintenance.getJobScheduler("maintenance:watchdog");
  expect(watchdog?.template?.data).toEqual({ kind: "watchdog", requestedBy: "scheduler" });

  // The next run honours the timezone: 02:00 in Paris is 01:00 or 00:00 UTC, never 02:00 UTC.
  const next = new Date(daily?.next ?? 0);
  expect(next.getTime()).toBeGreaterThan(Date.now());
  expect([0, 1]).toContain(next.getUTCHours());
  expect(next.getUTCMinutes()).toBe(0);
});

test("reconciling twice is a no-op: the second plan is all unchanged and no pending job moves", async () => {
  const config = testConfig(twoTargets);
  await reconcile(config);
  const delayedBefore = (await queues.backup.getDelayed()).map((job) => job.id).sort();
  const schedulersBefore = await queues.backup.getJobSchedulers();

  const second = await reconcile(config);

  expect(ids(second)).toMatchObject({ create: [], update: [], remove: [] });
  expect(second.unchanged).toHaveLength(11);
  expect((await queues.backup.getDelayed()).map((job) => job.id).sort()).toEqual(delayedBefore);
  expect(await queues.backup.getJobSchedulers()).toEqual(schedulersBefore);
});

test("changing the config updates schedulers in place; removing a target or tier removes its schedulers", async () => {
  await reconcile(testConfig(twoTargets));

  const changed = testConfig({
    timezone: "Europe/Paris",
    targets: {
      // daily moved to 04:15, monthly dropped, weekly unchanged
      "orders-db": { schedule: { daily: "15 4 * * *", weekly: "0 3 * * 0" } },
      // shared-files removed entirely
    },
    // monthly report removed
  });
  const preview = await planSchedules(changed, queues);
  expect(Object.keys(await stored("backup"))).toHaveLength(6); // planning changed nothing

  const plan = await reconcile(changed);

  expect(preview).toEqual(plan);
  expect(ids(plan)).toEqual({
    create: [],
    update: ["backup:orders-db:daily"],
    remove: [
      "backup:orders-db:monthly",
      "backup:shared-files:daily",
      "backup:shared-files:monthly",
      "backup:shared-files:weekly",
      "verify:shared-files",
      "report:monthly",
    ].sort(byQueueThenId),
    unchanged: ["backup:orders-db:weekly", "verify:orders-db", "maintenance:cleanup", "maintenance:watchdog"],
  });
  expect(plan.update[0]?.changes).toEqual(['pattern: "0 2 * * *" → "15 4 * * *"']);
  expect(await stored("backup")).toEqual({
    "backup:orders-db:daily": "15 4 * * * @ Europe/Paris",
    "backup:orders-db:weekly": "0 3 * * 0 @ Europe/Paris",
  });
  expect(await stored("verify")).toEqual({ "verify:orders-db": "0 6 * * 6 @ Europe/Paris" });
  expect(await stored("report")).toEqual({});
  // The updated scheduler's pending job is for the new time, 04:15 Paris time.
  const daily = await queues.backup.getJobScheduler("backup:orders-db:daily");
  expect(new Date(daily?.next ?? 0).getUTCMinutes()).toBe(15);
  // Pending jobs follow: one per remaining scheduler, the daily one at its new time, none for removed ones.
  const pending = await queues.backup.getDelayed();
  expect(pending.map((job) => job.id).sort()).toEqual([
    `repeat:backup:orders-db:daily:${daily?.next}`,
    expect.stringMatching(/^repeat:backup:orders-db:weekly:/),
  ]);

  // A timezone change updates every scheduler, and says so.
  const moved = await reconcile(testConfig({ ...twoTargets, timezone: "America/New_York" }));
  expect(moved.update.map((u) => u.changes)).toContainEqual(['tz: "Europe/Paris" → "America/New_York"']);
  expect(Object.values(await stored("backup"))).toEqual(
    expect.arrayContaining([expect.stringMatching(/@ America\/New_York$/)]),
  );
  expect(Object.values(await stored("backup")).every((s) => s.endsWith("@ America/New_York"))).toBe(true);
});

/** Removals are listed queue by queue (backup, verify, maintenance, report), then by id. */
function byQueueThenId(a: string, b: string): number {
  const order = ["backup", "verify", "maintenance", "report"];
  const qa = order.indexOf(a.split(":")[0] ?? "");
  const qb = order.indexOf(b.split(":")[0] ?? "");
  return qa - qb || (a < b ? -1 : a > b ? 1 : 0);
}

test("schedulers that are not Haven's (no Haven id prefix) are left alone", async () => {
  await queues.backup.upsertJobScheduler(
    "someone-elses",
    { pattern: "0 5 * * *" },
    { name: "x", data: { target: "x", tier: "daily", requestedBy: "someone" } },
  );

  const plan = await reconcile(testConfig(twoTargets));

  expect(plan.remove).toEqual([]);
  expect(await queues.backup.getJobScheduler("someone-elses")).toBeDefined();
});

test("an unknown timezone is a CONFIG error naming the key, and nothing is applied", async () => {
  // The loader rejects it too; this is the guard for configs built in code (the demo's, for one).
  const config = { ...testConfig(twoTargets), timezone: "Mars/Olympus" };

  const failure = await reconcile(config).catch((error: unknown) => error);

  expect(isHavenError(failure, "CONFIG")).toBe(true);
  expect(failure).toMatchObject({
    message: expect.stringContaining("Mars/Olympus"),
    hint: expect.stringContaining("timezone:"),
  });
  expect(await queues.backup.getJobSchedulersCount()).toBe(0);
});
