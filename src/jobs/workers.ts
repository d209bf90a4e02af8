/**
 * BullMQ workers for Haven's queues. The work itself is injected (`processors`), so this layer knows
 * nothing of the engine and the engine nothing of BullMQ. What this layer adds:
 * - backups run under the target lock; a backup whose target is locked completes at once as
 *   `skipped` (recorded, not stacked behind the running one, not retried);
 * - errors are classified for BullMQ: transient ones are retried with the job's backoff, permanent
 *   ones fail the job at once (UnrecoverableError), interrupted runs are retried;
 * - every processor gets a signal that is aborted on shutdown (after a grace period) or lock loss,
 *   the target's lock or the job's own BullMQ lock (once that lapsed, BullMQ hands the job to
 *   another worker: two attempts of one job must not run side by side);
 * - `close()` stops taking jobs and waits until the running ones have settled.
 */
import { hostname } from "node:os";
import { Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { HavenConfig } from "../config/types";
import type { BackupResult } from "../engine/types";
import { HavenError, isHavenError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { jobInfo, progressPublisher, type JobContext } from "./context";
import { errorOfFailedResult, toJobError, willRetry } from "./failures";
import { withTargetLock } from "./lock";
import { skippedBackup } from "./skipped";
import {
  DEFAULT_PREFIX,
  QUEUE_NAMES,
  type BackupJobData,
  type JobDataByQueue,
  type MaintenanceJobData,
  type QueueKind,
  type ReportJobData,
  type VerifyJobData,
} from "./names";

/** Does the work of one job; throws (or, for backups, returns `state: "failed"`) when it fails. */
export type JobProcessor<Request, Result> = (request: Request, ctx: JobContext) => Promise<Result>;

/** The work behind each queue. Only the queues with a processor get a worker. */
export interface Processors {
  /** Runs under the target's lock (one backup of a target at a time). */
  backup: JobProcessor<BackupJobData, BackupResult>;
  /**
   * Runs after `backup`, once the target's lock is released: slow follow-up work (copies to other
   * destinations) must not hold the lock, or the target's next backups would be skipped meanwhile.
   * Also called with the `skipped` result of a run that found the lock held (`backup` never ran).
   */
  afterBackup?: (request: BackupJobData, result: BackupResult, ctx: JobContext) => Promise<void>;
  verify?: JobProcessor<VerifyJobData, unknown>;
  maintenance?: JobProcessor<MaintenanceJobData, unknown>;
  report?: JobProcessor<ReportJobData, unknown>;
}

export interface StartWorkersOptions {
  /** `workers.concurrency` and `workers.lockTtl` are read from it. */
  config: HavenConfig;
  /** From `connectRedis(url, { role: "worker" })`; BullMQ duplicates it for its blocking reads. */
  connection: Redis;
  /** Redis key prefix; default `haven`. */
  prefix?: string;
  processors: Processors;
  logger: Logger;
  /** Jobs run at once per backup and verify worker; default `workers.concurrency`. Maintenance runs two at a time (the watchdog beside a cleanup), report one. */
  concurrency?: number;
  /** How long `close()` lets running jobs finish before aborting their signals; default 30 s. */
  shutdownGraceMs?: number;
  /** Least time between two progress updates of a job; default 1000 ms. */
  progressIntervalMs?: number;
  /** BullMQ's job lock duration (renewed at half of it); default BullMQ's 30 s. Tests shorten it. */
  jobLockMs?: number;
}

export interface CloseOptions {
  /** Overrides `shutdownGraceMs`; 0 aborts running jobs at once. A later, shorter call shortens the wait. */
  graceMs?: number;
}

export interface WorkersHandle {
  readonly workers: readonly Worker[];
  /** Jobs being processed by these workers now. */
  running(): number;
  /**
   * Stops taking new jobs, lets the running ones finish for the grace period, then aborts their
   * signals, and resolves once every processor has settled and the workers are closed. Interrupted
   * jobs are retried later (by any worker). The connection stays open: its owner closes it.
   */
  close(options?: CloseOptions): Promise<void>;
}

const DEFAULT_GRACE_MS = 30_000;

/** Starts one worker per queue that has a processor, and waits until each is connected. */
export async function startWorkers(options: StartWorkersOptions): Promise<WorkersHandle> {
  const { config, connection, processors, logger } = options;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const concurrency = options.concurrency ?? config.workers.concurrency;
  const progressIntervalMs = options.progressIntervalMs ?? 1000;
  const shutdown = new AbortController();
  let running = 0;
  /** The abort of each running job, by queue and job id, for the jobs whose BullMQ lock lapses. */
  const runningJobs = new Map<string, AbortController>();

  /** Runs one job with its context; the body decides the outcome, this wraps bookkeeping and logs. */
  const runJob = async <K extends QueueKind, R>(
    kind: K,
    job: Job<JobDataByQueue[K]>,
    bullSignal: AbortSignal | undefined,
    body: (ctx: JobContext) => Promise<R>,
  ): Promise<R> => {
    const info = jobInfo(job, kind);
    const jobLogger = logger.child({ queue: kind, job: info.id, ...targetOf(job.data) });
    const progress = progressPublisher(job, progressIntervalMs, jobLogger);
    // One controller per job, fed by the process-long shutdown signal through a listener removed when
    // the job ends: on Node 20, AbortSignal.any over a long-lived signal keeps every combined signal
    // (and what its listeners hold) alive for the life of the process (nodejs/node#55351).
    const jobAbort = new AbortController();
    const unlink = [shutdown.signal, ...(bullSignal ? [bullSignal] : [])].map((source) =>
      forwardAbort(source, jobAbort),
    );
    const runningKey = jobKey(kind, job.id);
    runningJobs.set(runningKey, jobAbort);
    const ctx: JobContext = {
      logger: jobLogger,
      signal: jobAbort.signal,
      onProgress: (event) => progress.publish(event),
      reportProgress: (bytes, phase = kind) => progress.publish({ phase, bytes }),
      job: info,
    };
    // The watchdog runs every minute: its routine lines would drown the rest.
    const routine = kind === "maintenance" ? "debug" : "info";
    running++;
    jobLogger[routine](
      { attempt: info.attempt, of: info.maxAttempts, scheduledAt: info.scheduledAt },
      `${kind} job started`,
    );
    try {
      const result = await body(ctx);
      jobLogger[routine](`${kind} job done`);
      return result;
    } catch (error) {
      // An aborted run fails because it was interrupted, whatever the processor threw on the way out.
      const interrupted = ctx.signal.aborted;
      const cause = interrupted ? interruptionOf(ctx.signal) : error;
      const retry = willRetry(cause, interrupted, info);
      jobLogger.error(
        {
          err: describe(error),
          code: codeOf(cause),
          attempt: info.attempt,
          ...(interrupted ? { interrupted: describe(cause) } : {}),
        },
        retry ? `${kind} job failed; it will be retried` : `${kind} job failed`,
      );
      throw toJobError(cause, interrupted);
    } finally {
      running--;
      runningJobs.delete(runningKey);
      for (const stop of unlink) stop();
      await progress.flush();
    }
  };

  const workers: Worker[] = [];
  const add = <K extends QueueKind>(
    kind: K,
    workerConcurrency: number,
    body: (data: JobDataByQueue[K], ctx: JobContext) => Promise<unknown>,
  ) => {
    const worker = new Worker<JobDataByQueue[K]>(
      QUEUE_NAMES[kind],
      // Three parameters: BullMQ hands a cancellation signal only to processors that declare it.
      async (job, _token, signal) => runJob(kind, job, signal, (ctx) => body(job.data, ctx)),
      {
        connection,
        prefix,
        concurrency: workerConcurrency,
        name: `${hostname()}/${process.pid}`,
        ...(options.jobLockMs === undefined ? {} : { lockDuration: options.jobLockMs }),
      },
    );
    worker.on("error", (error) => logger.error({ queue: kind, err: error.message }, "worker error"));
    // BullMQ renews a running job's lock but goes on running the job when a renewal finds the lock
    // gone (this process was paused past the lock, or Redis lost the key). The stalled-job check then
    // hands the job to another worker, so this attempt is stopped: a backup would otherwise commit a
    // second snapshot beside the retry, and no attempt could record its outcome (BullMQ refuses to
    // complete a job whose lock it no longer holds).
    worker.on("lockRenewalFailed", (jobIds) => {
      for (const id of jobIds) {
        const jobAbort = runningJobs.get(jobKey(kind, id));
        if (jobAbort === undefined || jobAbort.signal.aborted) continue;
        logger.warn(
          { queue: kind, job: id },
          "job lock lapsed: this attempt stops, another worker retries it",
        );
        jobAbort.abort(
          new HavenError("TRANSIENT", `${kind} job ${id} lost its lock in Redis: another worker retries it`, {
            hint: "if this recurs, look for long pauses of the worker process (CPU starvation, a suspended VM) and make sure Redis does not evict keys (maxmemory-policy noeviction)",
          }),
        );
      }
    });
    worker.on("stalled", (jobId) =>
      logger.warn(
        { queue: kind, job: jobId },
        "job stalled (its worker stopped renewing it); it will be retried",
      ),
    );
    workers.push(worker);
  };

  const lockTtl = config.workers.lockTtl;
  add("backup", concurrency, async (request, ctx) => {
    const startedAt = new Date();
    let entered = false;
    try {
      const result = await withTargetLock(
        connection,
        request.target,
        lockTtl,
        async (lockSignal) => {
          entered = true;
          // Replaced on the context itself, so runJob sees a lost lock as an interruption too.
          ctx.signal = AbortSignal.any([ctx.signal, lockSignal]);
          return processors.backup(request, ctx);
        },
        { prefix, logger: ctx.logger, owner: `${QUEUE_NAMES.backup}:${ctx.job.id}` },
      );
      if (result.state === "failed") throw errorOfFailedResult(result);
      await processors.afterBackup?.(request, result, ctx);
      return result;
    } catch (error) {
      if (!entered && isHavenError(error, "LOCKED")) {
        ctx.logger.warn({ hint: error.hint }, `${error.message}: this run is skipped`);
        const skipped = skippedBackup(request.target, error, startedAt);
        // Recorded like any other outcome (metrics count skipped runs); never fails the job.
        await processors
          .afterBackup?.(request, skipped, ctx)
          .catch((recordError: unknown) =>
            ctx.logger.warn({ err: String(recordError) }, "recording the skipped run failed"),
          );
        return skipped;
      }
      throw error;
    }
  });
  const { verify, maintenance, report } = processors;
  if (verify) add("verify", concurrency, verify);
  // Two at once: the minute watchdog must not wait behind an hourly cleanup that runs long (its
  // processor takes a lock so that two cleanups never overlap).
  if (maintenance) add("maintenance", 2, maintenance);
  if (report) add("report", 1, report);

  await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  logger.info({ queues: workers.map((worker) => worker.name), concurrency, prefix }, "workers started");

  let closing: Promise<void> | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  let abortAt = Infinity;
  const abortRunning = () => {
    clearTimeout(graceTimer);
    if (shutdown.signal.aborted) return;
    if (running > 0) logger.warn({ running }, "grace period over: aborting running jobs");
    shutdown.abort(
      new HavenError("CANCELLED", "the worker shut down before the run finished", {
        hint: "the job is retried by the next worker that takes it",
      }),
    );
  };
  /** Aborts running jobs `graceMs` from now, unless an earlier deadline is already set. */
  const abortWithin = (graceMs: number) => {
    if (graceMs <= 0) return abortRunning();
    if (Date.now() + graceMs >= abortAt) return;
    abortAt = Date.now() + graceMs;
    clearTimeout(graceTimer);
    graceTimer = setTimeout(abortRunning, graceMs);
  };
  return {
    workers,
    running: () => running,
    close(closeOptions = {}) {
      const graceMs = closeOptions.graceMs ?? options.shutdownGraceMs ?? DEFAULT_GRACE_MS;
      abortWithin(graceMs);
      if (closing) return closing;
      logger.info({ running, graceMs }, "workers closing: no new jobs are taken");
      // Worker.close() stops fetching at once and resolves when the running jobs have settled.
      closing = Promise.all(workers.map((worker) => worker.close())).then(
        () => {
          clearTimeout(graceTimer);
          logger.info("workers closed");
        },
        (error: unknown) => {
          clearTimeout(graceTimer);
          throw error;
        },
      );
      return closing;
    },
  };
}

/** Why an aborted run stopped (shutdown, lock lost, cancelled), as the job's failure. */
function interruptionOf(signal: AbortSignal): HavenError {
  const reason: unknown = signal.reason;
  if (reason instanceof HavenError) return reason;
  return new HavenError(
    "CANCELLED",
    `the run was cancelled${typeof reason === "string" ? `: ${reason}` : ""}`,
  );
}

function jobKey(kind: QueueKind, jobId: string | undefined): string {
  return `${kind}:${jobId ?? ""}`;
}

function targetOf(data: unknown): { target?: string } {
  const target = (data as { target?: unknown } | null)?.target;
  return typeof target === "string" ? { target } : {};
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function codeOf(error: unknown): string | undefined {
  return error instanceof HavenError ? error.code : undefined;
}

/** Aborts `target` when `source` aborts, until the returned function is called. */
function forwardAbort(source: AbortSignal, target: AbortController): () => void {
  if (source.aborted) {
    target.abort(source.reason);
    return () => undefined;
  }
  const onAbort = () => target.abort(source.reason);
  source.addEventListener("abort", onAbort, { once: true });
  return () => source.removeEventListener("abort", onAbort);
}
