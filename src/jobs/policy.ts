/**
 * How long BullMQ retries a job and how long it keeps job records. The records in Redis are a
 * convenience (the destination's manifests and audit log are the record of truth), so they are
 * kept for weeks, not forever.
 */
import type { JobsOptions } from "bullmq";
import type { QueueKind } from "./names";

export interface RetryPolicy {
  /** Tries in all, the first one included. */
  attempts: number;
  /** Wait before the first retry; each further retry waits twice as long (exponential backoff). */
  backoffMs: number;
}

/**
 * Defaults per queue:
 * - backup and verify: 4 tries, retried after 1, 2 and 4 minutes (a network blip or a restarting
 *   database server should not cost a day's recovery point);
 * - report: the same (mail servers have blips too);
 * - maintenance: 2 tries; the watchdog job gets 1, since it runs again the next minute anyway.
 */
export const DEFAULT_RETRY: Readonly<Record<QueueKind, RetryPolicy>> = {
  backup: { attempts: 4, backoffMs: 60_000 },
  verify: { attempts: 4, backoffMs: 60_000 },
  maintenance: { attempts: 2, backoffMs: 60_000 },
  report: { attempts: 4, backoffMs: 60_000 },
};

const DAY_S = 86_400;

/** Options of the jobs Haven adds or schedules: retries, backoff and how long records are kept. */
export type HavenJobOptions = Pick<JobsOptions, "attempts" | "backoff" | "removeOnComplete" | "removeOnFail">;

/** Job options for a queue, with an optional retry policy replacing the queue's default. */
export function jobOptions(queue: QueueKind, retry: RetryPolicy = DEFAULT_RETRY[queue]): HavenJobOptions {
  return {
    attempts: retry.attempts,
    backoff: { type: "exponential", delay: retry.backoffMs },
    // Completed runs are kept 30 days (the dashboard's history), failed ones 90 (incident follow-up);
    // `count` bounds memory when something fires very often.
    removeOnComplete: { age: 30 * DAY_S, count: 1000 },
    removeOnFail: { age: 90 * DAY_S, count: 5000 },
  };
}

/** The watchdog fires every minute: keep only the last hour of its records. */
export function watchdogJobOptions(): HavenJobOptions {
  return {
    attempts: 1,
    removeOnComplete: { count: 60 },
    removeOnFail: { count: 60 },
  };
}
