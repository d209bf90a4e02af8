/**
 * The CLI side of a queued run (`haven backup TARGET` without `--direct`): add the job, then follow
 * it until it completes or fails, relaying its progress.
 */
import { Job, QueueEvents, type Queue } from "bullmq";
import { Redis } from "ioredis";
import type { BackupRequest, BackupResult, ProgressEvent } from "../engine/types";
import { HavenError } from "../lib/errors";
import { decodeFailure } from "./failures";
import type { BackupJobData } from "./names";
import { jobOptions, type RetryPolicy } from "./policy";
import type { HavenQueues } from "./queues";

export interface EnqueueOptions {
  /** Makes enqueueing idempotent: while a job with this id exists, adding it again returns that job. */
  jobId?: string;
  /** Replaces the backup queue's default retry policy for this job. */
  retry?: RetryPolicy;
}

/** Adds a backup job (named `backup:<target>:<tier>`) and returns it. */
export async function enqueueBackup(
  queues: HavenQueues,
  request: BackupRequest,
  options: EnqueueOptions = {},
): Promise<Job<BackupJobData, BackupResult>> {
  return queues.backup.add(`backup:${request.target}:${request.tier}`, request, {
    ...jobOptions("backup", options.retry),
    ...(options.jobId === undefined ? {} : { jobId: options.jobId }),
  });
}

const EVENT_REPLAY_MARGIN_MS = 60_000;

export interface WaitOptions {
  /** Stops following (the job itself keeps running in the workers). */
  signal?: AbortSignal;
  /** Progress the processor published (throttled by the worker). */
  onProgress?: (progress: ProgressEvent) => void;
  /**
   * Asked every `everyMs` while the job is unfinished: an error it returns ends the wait with that
   * error (the job stays in the queue). An error it throws is ignored: the next call asks again.
   */
  watch?: { everyMs: number; check: () => Promise<HavenError | undefined> };
  /**
   * An attempt failed and the job waits for its next one (backoff): without it a follower says
   * nothing for the minutes the retries take, as if the backup were still running.
   */
  onRetry?: (retry: RetryNotice) => void;
}

/** A failed attempt of a followed job that will be tried again. */
export interface RetryNotice {
  /** The attempt that failed, from 1. */
  attempt: number;
  /** Attempts in all. */
  of: number;
  /** Why it failed, decoded as for a final failure. */
  error: HavenError;
  /** When the next attempt is due (a worker must be free to take it). */
  nextAt: Date;
}

/**
 * Follows `job` until it completes (resolves with its result) or fails for good (rejects with a
 * HavenError carrying the processor's code and hint; retries in between are waited out). Progress
 * published before the call is replayed; a job that finished before the call resolves at once.
 */
export async function waitForResult<D, R>(
  queue: Queue<D, R>,
  job: Job<D, R>,
  options: WaitOptions = {},
): Promise<R> {
  const jobId = job.id;
  if (jobId === undefined) throw new HavenError("USAGE", "cannot follow a job without an id");
  options.signal?.throwIfAborted();
  // QueueEvents blocks on its connection: give it one of its own that retries forever, like a
  // worker's (BullMQ refuses a shared connection that gives up after a few retries).
  const base = queue.opts.connection;
  const own = base instanceof Redis ? base.duplicate({ maxRetriesPerRequest: null }) : undefined;
  own?.on("error", () => undefined); // failures surface through the calls below
  // Read the queue's event stream from shortly before the job was added, not from "now": progress
  // and outcome events published before this call are replayed (filtered by job id below). The
  // margin covers clock skew between this host (job.timestamp) and Redis (stream ids).
  const events = new QueueEvents(queue.name, {
    connection: own ?? base,
    prefix: queue.opts.prefix,
    lastEventId: `${Math.max(0, job.timestamp - EVENT_REPLAY_MARGIN_MS)}-0`,
  });
  events.on("error", () => undefined);
  try {
    await events.waitUntilReady();
    return await new Promise<R>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearInterval(watchTimer);
        events
          .removeAllListeners("completed")
          .removeAllListeners("failed")
          .removeAllListeners("progress")
          .removeAllListeners("delayed");
        options.signal?.removeEventListener("abort", onAbort);
        outcome();
      };
      const fail = (reason: string) => settle(() => reject(failureOf(jobId, reason)));
      const onAbort = () =>
        settle(() =>
          reject(
            new HavenError("CANCELLED", `stopped following job ${jobId}`, {
              hint: "the job keeps running in the workers; `haven snapshots TARGET` lists the snapshot once it is committed",
            }),
          ),
        );

      options.signal?.addEventListener("abort", onAbort, { once: true });
      const watch = options.watch;
      let watching = false;
      const watchTimer =
        watch &&
        setInterval(() => {
          if (watching) return;
          watching = true;
          watch
            .check()
            .then((error) => {
              if (error) settle(() => reject(error));
            })
            .catch(() => undefined)
            .finally(() => (watching = false));
        }, watch.everyMs);
      events.on("completed", (event) => {
        if (event.jobId === jobId) settle(() => resolve(event.returnvalue as R));
      });
      events.on("failed", (event) => {
        if (event.jobId === jobId) fail(event.failedReason);
      });
      const noticed = new Set<number>();
      events.on("delayed", (event) => {
        if (event.jobId !== jobId || !options.onRetry) return;
        const onRetry = options.onRetry;
        void Job.fromId<D, R>(queue, jobId)
          .then((stored) => {
            const attempt = stored?.attemptsMade ?? 0;
            if (settled || !stored || attempt === 0 || noticed.has(attempt)) return;
            noticed.add(attempt);
            onRetry({
              attempt,
              of: stored.opts.attempts ?? 1,
              error: failureOf(jobId, stored.failedReason ?? "unknown"),
              nextAt: new Date(Number(event.delay)),
            });
          })
          .catch(() => undefined); // a notice only: the outcome still arrives by its own event
      });
      events.on("progress", (event) => {
        if (event.jobId === jobId && !settled && isProgressEvent(event.data))
          options.onProgress?.(event.data);
      });

      // The event stream is capped (about 10,000 events): a job that finished long ago may have lost
      // its events, so its stored state answers too.
      // The state is read before the job: read the other way round, a job finishing in between
      // would look completed with the return value of its unfinished copy (null).
      void (async () => {
        try {
          const state = await queue.getJobState(jobId);
          if (state !== "completed" && state !== "failed" && state !== "unknown") return;
          const stored = await Job.fromId<D, R>(queue, jobId);
          if (!stored || state === "unknown")
            return settle(() =>
              reject(
                new HavenError("PERMANENT", `job ${jobId} no longer exists in Redis`, {
                  hint: "it was removed (queue cleaned or obliterated) before it finished; run it again",
                }),
              ),
            );
          if (state === "completed") settle(() => resolve(stored.returnvalue));
          else fail(stored.failedReason);
        } catch (error) {
          settle(() => reject(error instanceof Error ? error : new Error(String(error))));
        }
      })();
    });
  } finally {
    await events.close();
    own?.disconnect();
  }
}

function failureOf(jobId: string, reason: string): HavenError {
  const decoded = decodeFailure(reason);
  return new HavenError(decoded.code, decoded.message, {
    hint: decoded.hint ?? `see the worker's log for job ${jobId}`,
  });
}

function isProgressEvent(data: unknown): data is ProgressEvent {
  return typeof data === "object" && data !== null && typeof (data as { bytes?: unknown }).bytes === "number";
}
