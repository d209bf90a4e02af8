import { once } from "node:events";
import type { Redis } from "ioredis";
import type { BackupRequest, BackupResult, ProgressEvent } from "../../src/engine/types";
import { HavenError, isHavenError } from "../../src/lib/errors";
import { silentLogger } from "../../src/lib/logger";
import { Secret } from "../../src/lib/secret";
import { connectRedis } from "../../src/jobs/connection";
import type { JobContext } from "../../src/jobs/context";
import { enqueueBackup, waitForResult, type RetryNotice } from "../../src/jobs/enqueue";
import { openQueues, type HavenQueues } from "../../src/jobs/queues";
import { PRUNE_LOCK_OWNER, targetLockKey } from "../../src/jobs/lock";
import { QUEUE_NAMES } from "../../src/jobs/names";
import { installShutdown } from "../../src/jobs/shutdown";
import {
  startWorkers,
  type Processors,
  type StartWorkersOptions,
  type WorkersHandle,
} from "../../src/jobs/workers";
import { runQueuedBackup } from "../../src/cli/commands/queued";
import { testConfig, uniquePrefix } from "./helpers/config";
import { connectTestRedis, deleteKeys, redisUrl } from "./helpers/redis";

const prefix = uniquePrefix("workers");
const config = testConfig({ targets: { "orders-db": {}, "shared-files": {} }, concurrency: 2 });
const fastRetry = { attempts: 3, backoffMs: 20 };
let redis: Redis;
let queues: HavenQueues;
const handles: WorkersHandle[] = [];

beforeAll(async () => {
  redis = await connectTestRedis();
  queues = openQueues(redis, { prefix });
});

afterEach(async () => {
  await Promise.all(handles.splice(0).map((handle) => handle.close({ graceMs: 0 })));
  for (const queue of [queues.backup, queues.verify, queues.maintenance, queues.report]) {
    await queue.obliterate({ force: true });
  }
});

afterAll(async () => {
  await queues.close();
  await deleteKeys(redis, prefix);
  await redis.quit();
});

async function start(
  processors: Processors,
  options: Partial<StartWorkersOptions> = {},
): Promise<WorkersHandle> {
  const handle = await startWorkers({
    config,
    connection: redis,
    prefix,
    processors,
    logger: silentLogger,
    ...options,
  });
  handles.push(handle);
  return handle;
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

function committed(request: BackupRequest): BackupResult {
  const now = new Date().toISOString();
  return {
    target: request.target,
    state: "committed",
    snapshotId: "20261122T020000Z-0123abcd",
    destinations: ["local"],
    startedAt: now,
    finishedAt: now,
    warnings: [],
  };
}

const daily = (target = "orders-db"): BackupRequest => ({ target, tier: "daily", requestedBy: "cli:test" });

test("two concurrent backups of one target: one runs, the other completes as skipped and is not retried", async () => {
  const started = gate();
  const release = gate();
  const backup = jest.fn(async (request: BackupRequest) => {
    started.open();
    await release.wait;
    return committed(request);
  });
  const afterBackup = jest.fn((_request: BackupRequest, _result: BackupResult) => Promise.resolve());
  await start({ backup, afterBackup });

  const first = await enqueueBackup(queues, daily(), { retry: fastRetry });
  await started.wait;
  const second = await enqueueBackup(queues, daily(), { retry: fastRetry });
  const skipped = await waitForResult(queues.backup, second);
  release.open();
  const ran = await waitForResult(queues.backup, first);

  expect(ran.state).toBe("committed");
  expect(skipped).toMatchObject({
    target: "orders-db",
    state: "skipped",
    destinations: [],
    error: { code: "LOCKED", message: expect.stringContaining("target orders-db is locked") },
  });
  expect(backup).toHaveBeenCalledTimes(1);
  // The skipped run is recorded as an outcome (metrics), through the same hook as the others.
  expect(afterBackup.mock.calls.map(([, result]) => result.state).sort()).toEqual(["committed", "skipped"]);
  const stored = await queues.backup.getJob(second.id!);
  expect(stored?.attemptsMade).toBe(1);
  expect(await stored?.getState()).toBe("completed");
});

test("the follow-up of a backup (its copies) runs after the target's lock is released: the next backup is not skipped", async () => {
  const copying = gate();
  const copyMayEnd = gate();
  const lockedDuringCopy: number[] = [];
  const backup = jest.fn((request: BackupRequest) => Promise.resolve(committed(request)));
  const afterBackup = jest.fn(async () => {
    lockedDuringCopy.push(await redis.exists(targetLockKey("orders-db", prefix)));
    copying.open();
    await copyMayEnd.wait;
  });
  await start({ backup, afterBackup });

  const first = await enqueueBackup(queues, daily(), { retry: fastRetry });
  await copying.wait;
  const second = await enqueueBackup(queues, daily(), { retry: fastRetry });
  await copying.wait;
  // The second backup runs while the first one's copy is still going.
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (backup.mock.calls.length === 2) {
        clearInterval(poll);
        resolve();
      }
    }, 10);
  });
  copyMayEnd.open();
  expect((await waitForResult(queues.backup, first)).state).toBe("committed");
  expect((await waitForResult(queues.backup, second)).state).toBe("committed");
  expect(lockedDuringCopy).toEqual([0, 0]);
  expect(afterBackup).toHaveBeenCalledTimes(2);
});

/** A lock token as another process would hold it (host/pid/random/owner), naming `owner`. */
const heldBy = (host: string, owner: string) =>
  `${host}/999999/${"0".repeat(24)}/${encodeURIComponent(owner)}`;

test.each([
  // What a SIGKILLed worker leaves: its lock, naming this job, no longer renewed, expiring on its own.
  [
    "a re-delivered job whose dead earlier attempt still holds the lock",
    (jobId: string) => heldBy("deadhost", `${QUEUE_NAMES.backup}:${jobId}`),
  ],
  // The hourly prune of this target, holding its lock for a moment.
  ["a backup that meets a prune holding the target's lock", () => heldBy("otherhost", PRUNE_LOCK_OWNER)],
])("%s is retried and runs, not skipped", async (_case, holder) => {
  const backup = jest.fn((request: BackupRequest) => Promise.resolve(committed(request)));
  const job = await enqueueBackup(queues, daily(), { retry: { attempts: 4, backoffMs: 1000 } });
  await redis.set(targetLockKey("orders-db", prefix), holder(job.id!), "PX", 1500);
  await start({ backup });

  const result = await waitForResult(queues.backup, job);

  expect(result).toMatchObject({ target: "orders-db", state: "committed" });
  expect(backup).toHaveBeenCalledTimes(1);
  const stored = await queues.backup.getJob(job.id!);
  expect(stored?.attemptsMade).toBeGreaterThanOrEqual(2); // at least one attempt met the held lock
  expect(await redis.get(targetLockKey("orders-db", prefix))).toBeNull(); // released after the run
});

test("the CLI side: a fail-fast client connection enqueues a backup and follows it to its result", async () => {
  await start({ backup: (request) => Promise.resolve(committed(request)) });
  const cli = await connectRedis(redisUrl, { role: "client", connectionName: "haven-jobs-test-cli" });
  const cliQueues = openQueues(cli, { prefix });
  try {
    const job = await enqueueBackup(cliQueues, {
      target: "orders-db",
      tier: "manual",
      requestedBy: "cli:alice",
    });
    expect(job.name).toBe("backup:orders-db:manual");
    await expect(waitForResult(cliQueues.backup, job)).resolves.toMatchObject({ state: "committed" });
  } finally {
    await cliQueues.close();
    await cli.quit();
  }
});

test("`haven backup` (queued) with no worker running fails at once with the fix, and queues nothing", async () => {
  const queued = { ...config, queuePrefix: prefix };
  const request = { target: "orders-db", tier: "manual" as const, requestedBy: "cli:alice" };
  const ctx = { logger: silentLogger, signal: new AbortController().signal };
  await expect(runQueuedBackup(queued, request, ctx)).rejects.toMatchObject({
    code: "TRANSIENT",
    exitCode: 1,
    message: expect.stringContaining("no Haven worker is running") as string,
    hint: expect.stringContaining("--direct") as string,
  });
  expect(await queues.backup.getJobCounts("waiting", "delayed", "active")).toEqual({
    waiting: 0,
    delayed: 0,
    active: 0,
  });

  await start({ backup: (r) => Promise.resolve(committed(r)) });
  await expect(runQueuedBackup(queued, request, ctx)).resolves.toMatchObject({ state: "committed" });
});

test("a queued `haven backup` whose last worker vanishes mid-run stops waiting with the fix; the job stays queued", async () => {
  const queued = { ...config, queuePrefix: prefix };
  const request = { target: "orders-db", tier: "manual" as const, requestedBy: "cli:alice" };
  const started = gate();
  const release = gate();
  const handle = await start({
    backup: async (r) => {
      started.open();
      await release.wait;
      return committed(r);
    },
  });
  const ctx = { logger: silentLogger, signal: new AbortController().signal };
  const following = runQueuedBackup(queued, request, ctx, { workerPollMs: 50 });
  following.catch(() => undefined);
  await started.wait;

  // What a worker killed mid-run looks like from Redis: its connections go, its job stays active.
  await Promise.all(handle.workers.map((worker) => worker.close(true)));

  await expect(following).rejects.toMatchObject({
    code: "TRANSIENT",
    exitCode: 1,
    message: expect.stringContaining("no Haven worker has been running") as string,
    hint: expect.stringContaining("haven worker") as string,
  });
  expect(await queues.backup.getJobCounts("active")).toEqual({ active: 1 });
  release.open();
});

test("a TRANSIENT failure is retried with backoff and then succeeds", async () => {
  const attempts: number[] = [];
  // The second attempt waits until the follower has heard of the first one's failure.
  const heard = gate();
  await start({
    backup: async (request, ctx) => {
      attempts.push(ctx.job.attempt);
      if (ctx.job.attempt === 1) throw new HavenError("TRANSIENT", "S3 answered 503 SlowDown");
      // Aborted by afterEach's close when the notice never comes (the test then times out).
      const aborted = once(ctx.signal, "abort");
      await Promise.race([heard.wait, aborted]);
      return committed(request);
    },
  });

  const job = await enqueueBackup(queues, daily(), { retry: fastRetry });
  const retries: RetryNotice[] = [];
  const result = await waitForResult(queues.backup, job, {
    onRetry: (r) => {
      retries.push(r);
      heard.open();
    },
  });

  expect(result.state).toBe("committed");
  expect(attempts).toEqual([1, 2]);
  // The follower heard of the failed attempt while it waited (seen in a drill: minutes of silence).
  expect(retries).toEqual([
    {
      attempt: 1,
      of: 3,
      error: expect.objectContaining({ code: "TRANSIENT", message: "S3 answered 503 SlowDown" }) as unknown,
      nextAt: expect.any(Date) as unknown,
    },
  ]);
  // Following a job that already finished answers from its stored state.
  await expect(waitForResult(queues.backup, job)).resolves.toEqual(result);
}, 15_000);

test("an unclassified error is retried until attempts run out, then fails", async () => {
  let calls = 0;
  await start({
    backup: () => {
      calls++;
      return Promise.reject(new Error("socket hang up"));
    },
  });

  const job = await enqueueBackup(queues, daily(), { retry: fastRetry });
  const failure = await waitForResult(queues.backup, job).catch((e: unknown) => e);

  expect(calls).toBe(3);
  expect(failure).toBeInstanceOf(HavenError);
  expect(failure).toMatchObject({ message: "socket hang up", hint: expect.stringContaining(job.id!) });
});

test("a PERMANENT failure is not retried, and its code and hint reach the caller", async () => {
  let calls = 0;
  await start({
    backup: () => {
      calls++;
      return Promise.reject(
        new HavenError("CREDENTIALS", "S3 refused the access key", {
          hint: "check accessKeyId and secretAccessKeyFile of destination primary",
        }),
      );
    },
  });

  const job = await enqueueBackup(queues, daily(), { retry: fastRetry });
  const failure = await waitForResult(queues.backup, job).catch((e: unknown) => e);

  expect(calls).toBe(1);
  expect(isHavenError(failure, "CREDENTIALS")).toBe(true);
  expect(failure).toMatchObject({
    message: "S3 refused the access key",
    hint: "check accessKeyId and secretAccessKeyFile of destination primary",
    exitCode: 12,
  });
  expect(await (await queues.backup.getJob(job.id!))?.getState()).toBe("failed");
});

test("a run the engine reports as failed fails the job with the engine's error", async () => {
  let calls = 0;
  await start({
    backup: (request) => {
      calls++;
      return Promise.resolve({
        ...committed(request),
        state: "failed",
        error: { code: "INTEGRITY", message: "sha256 mismatch on data.tar.zst", hint: "run haven verify" },
      });
    },
  });

  const job = await enqueueBackup(queues, daily(), { retry: fastRetry });
  await expect(waitForResult(queues.backup, job)).rejects.toMatchObject({
    code: "INTEGRITY",
    message: "sha256 mismatch on data.tar.zst",
    hint: "run haven verify",
  });
  expect(calls).toBe(1);
});

test("progress published by the processor reaches the follower, even progress published before it listened", async () => {
  const seen = gate();
  await start(
    {
      backup: async (request, ctx) => {
        ctx.reportProgress(100);
        ctx.reportProgress(200);
        ctx.onProgress({ phase: "upload", bytes: 300, total: 1000 });
        await seen.wait;
        return committed(request);
      },
    },
    { progressIntervalMs: 10 },
  );

  const received: ProgressEvent[] = [];
  const job = await enqueueBackup(queues, daily(), { retry: fastRetry });
  const result = await waitForResult(queues.backup, job, {
    onProgress: (event) => {
      received.push(event);
      seen.open();
    },
  });

  expect(result.state).toBe("committed");
  // Throttled: the newest event is the one that is sent.
  expect(received.at(-1)).toEqual({ phase: "upload", bytes: 300, total: 1000 });
});

test("close() during a running job aborts its signal after the grace period and resolves after it settles", async () => {
  const started = gate();
  const events: string[] = [];
  let seenSignal: AbortSignal | undefined;
  const handle = await start({
    backup: async (_request, ctx: JobContext) => {
      seenSignal = ctx.signal;
      started.open();
      await once(ctx.signal, "abort");
      // Cleanup after the abort (removing uploaded parts) takes a moment.
      await new Promise((resolve) => setImmediate(resolve));
      events.push("processor settled");
      throw ctx.signal.reason;
    },
  });

  const job = await enqueueBackup(queues, daily(), { retry: fastRetry });
  await started.wait;
  await handle.close({ graceMs: 50 });
  events.push("close resolved");

  expect(events).toEqual(["processor settled", "close resolved"]);
  expect(seenSignal?.reason).toMatchObject({ code: "CANCELLED" });
  // Interrupted, not failed: the job goes back to be retried by the next worker.
  const stored = await queues.backup.getJob(job.id!);
  expect(["delayed", "waiting"]).toContain(await stored?.getState());
  expect(stored?.failedReason).toMatch(/^CANCELLED: the worker shut down/);
});

test("a second close() with a shorter grace period (the second SIGTERM) aborts running jobs at once", async () => {
  const started = gate();
  const handle = await start({
    backup: async (_request, ctx: JobContext) => {
      started.open();
      await once(ctx.signal, "abort");
      throw ctx.signal.reason;
    },
  });

  await enqueueBackup(queues, daily(), { retry: fastRetry });
  await started.wait;
  const first = handle.close({ graceMs: 60_000 });
  const second = handle.close({ graceMs: 0 });

  expect(second).toBe(first);
  await first;
  expect(handle.running()).toBe(0);
});

test("close() lets a job that finishes within the grace period complete, and takes no new job", async () => {
  const started = gate();
  const release = gate();
  let signal: AbortSignal | undefined;
  const backup = jest.fn(async (request: BackupRequest, ctx: JobContext) => {
    signal = ctx.signal;
    started.open();
    await release.wait;
    return committed(request);
  });
  const handle = await start({ backup });

  const job = await enqueueBackup(queues, daily(), { retry: fastRetry });
  await started.wait;
  const closed = handle.close({ graceMs: 60_000 });
  const late = await enqueueBackup(queues, daily("shared-files"), { retry: fastRetry });
  release.open();
  await closed;

  expect(signal?.aborted).toBe(false);
  expect(await (await queues.backup.getJob(job.id!))?.getState()).toBe("completed");
  expect(await (await queues.backup.getJob(late.id!))?.getState()).toBe("waiting");
  expect(backup).toHaveBeenCalledTimes(1);
});

test("a backup whose BullMQ job lock lapses is stopped and releases the target, so it never runs beside its retry", async () => {
  const started = gate();
  let aborted!: (reason: unknown) => void;
  const abortReason = new Promise<unknown>((resolve) => (aborted = resolve));
  await start(
    {
      backup: (_request, ctx) =>
        new Promise<BackupResult>((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            aborted(ctx.signal.reason);
            reject(ctx.signal.reason as Error);
          });
          started.open();
        }),
    },
    { jobLockMs: 1000 },
  );
  const job = await enqueueBackup(queues, daily(), { retry: { attempts: 1, backoffMs: 20 } });
  await started.wait;
  expect(await redis.exists(targetLockKey("orders-db", prefix))).toBe(1);

  // What a pause of this process past the lock, or a Redis that lost the key, looks like to BullMQ.
  await redis.del(`${prefix}:${QUEUE_NAMES.backup}:${job.id}:lock`);

  let timer: NodeJS.Timeout | undefined;
  const reason = await Promise.race([
    abortReason,
    new Promise((resolve) => (timer = setTimeout(resolve, 5000, "still running 5 s after its lock lapsed"))),
  ]);
  clearTimeout(timer);
  expect(reason).toBeInstanceOf(HavenError);
  expect(reason).toMatchObject({
    code: "TRANSIENT",
    message: expect.stringContaining("lost its lock") as string,
  });
  for (let i = 0; i < 50 && (await redis.exists(targetLockKey("orders-db", prefix))) === 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(await redis.exists(targetLockKey("orders-db", prefix))).toBe(0);
});

test("verify, maintenance and report jobs run their processors with their data and context", async () => {
  const maintenance = (request: { kind: string }, ctx: JobContext) =>
    Promise.resolve({ kind: request.kind, queue: ctx.job.queue });
  const verify = (request: { target: string }) => Promise.resolve({ verified: request.target });
  const report = (request: { kind: string }) => Promise.resolve({ report: request.kind });
  await start({ backup: (request) => Promise.resolve(committed(request)), maintenance, verify, report });

  const cleanup = await queues.maintenance.add("maintenance:cleanup", {
    kind: "cleanup",
    requestedBy: "test",
  });
  const check = await queues.verify.add("verify:orders-db", { target: "orders-db", requestedBy: "test" });

  await expect(waitForResult(queues.maintenance, cleanup)).resolves.toEqual({
    kind: "cleanup",
    queue: "maintenance",
  });
  await expect(waitForResult(queues.verify, check)).resolves.toEqual({ verified: "orders-db" });
  const monthly = await queues.report.add("report:monthly", { kind: "monthly", requestedBy: "test" });
  await expect(waitForResult(queues.report, monthly)).resolves.toEqual({ report: "monthly" });
});

test("the watchdog does not wait behind a long cleanup: maintenance runs two jobs at once", async () => {
  const cleanupMayEnd = gate();
  const cleanupRunning = gate();
  const maintenance = async (request: { kind: string }) => {
    if (request.kind === "cleanup") {
      cleanupRunning.open();
      await cleanupMayEnd.wait;
    }
    return { kind: request.kind };
  };
  await start({ backup: (request) => Promise.resolve(committed(request)), maintenance });
  const cleanup = await queues.maintenance.add("maintenance:cleanup", {
    kind: "cleanup",
    requestedBy: "test",
  });
  await cleanupRunning.wait;
  const watchdog = await queues.maintenance.add("maintenance:watchdog", {
    kind: "watchdog",
    requestedBy: "test",
  });
  await expect(waitForResult(queues.maintenance, watchdog)).resolves.toEqual({ kind: "watchdog" });
  cleanupMayEnd.open();
  await expect(waitForResult(queues.maintenance, cleanup)).resolves.toEqual({ kind: "cleanup" });
});

test("SIGTERM closes gracefully and exits 0; a second signal aborts running jobs at once", async () => {
  const before = new Set(process.listeners("SIGTERM"));
  const closeCalls: unknown[] = [];
  const closed = gate();
  const exit = jest.fn();
  const afterClose = jest.fn();
  const uninstall = installShutdown(
    {
      close: async (options) => {
        closeCalls.push(options);
        await closed.wait;
      },
    },
    silentLogger,
    { exit, afterClose },
  );
  try {
    const ours = process.listeners("SIGTERM").filter((listener) => !before.has(listener));
    expect(ours).toHaveLength(1);
    const onSignal = ours[0] as (signal: NodeJS.Signals) => void;

    onSignal("SIGTERM");
    onSignal("SIGTERM");
    expect(closeCalls).toEqual([undefined, { graceMs: 0 }]);
    expect(exit).not.toHaveBeenCalled();

    closed.open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(afterClose).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(0);
  } finally {
    uninstall();
  }
  expect(process.listeners("SIGTERM").filter((listener) => !before.has(listener))).toHaveLength(0);
});

test("an unreachable Redis fails at start with a TRANSIENT error that names the config key, not the password", async () => {
  const failure = await connectRedis(new Secret("redis://haven:s3cret-pw@127.0.0.1:1/0"), {
    role: "worker",
    connectTimeoutMs: 1000,
  }).catch((e: unknown) => e);

  expect(isHavenError(failure, "TRANSIENT")).toBe(true);
  expect((failure as HavenError).message).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0/);
  expect((failure as HavenError).hint).toMatch(/`redis:` in the config \(or REDIS_URL\)/);
  expect(
    JSON.stringify({ message: (failure as HavenError).message, hint: (failure as HavenError).hint }),
  ).not.toContain("s3cret-pw");
});

test("Redis refusing the credentials is a CREDENTIALS error, not a retry loop", async () => {
  const failure = await connectRedis(new Secret("redis://nosuchuser:wrong-pw@127.0.0.1:6379"), {
    role: "client",
    connectTimeoutMs: 2000,
  }).catch((e: unknown) => e);

  expect(isHavenError(failure, "CREDENTIALS")).toBe(true);
  expect((failure as HavenError).exitCode).toBe(12);
  expect((failure as HavenError).message).not.toContain("wrong-pw");
});
