/**
 * What a processor gets besides its request: a logger, a signal to honour, a way to report progress,
 * and facts about the job. It is an EngineContext, so `(request, ctx) => runBackup(config, request, ctx)`
 * is a complete backup processor.
 */
import type { Job } from "bullmq";
import type { EngineContext, ProgressEvent } from "../engine/types";
import type { Logger } from "../lib/logger";
import type { QueueKind } from "./names";

export interface JobInfo {
  /** BullMQ job id; for scheduled jobs `repeat:<scheduler id>:<scheduled epoch ms>`. */
  id: string;
  queue: QueueKind;
  /** 1 on the first try. */
  attempt: number;
  /** Tries allowed in all (the job's `attempts`). */
  maxAttempts: number;
  /** Set when a job scheduler created the job. */
  schedulerId?: string;
  /** The time the scheduler planned this job for (ISO 8601), even when it started late. */
  scheduledAt?: string;
}

export interface JobContext extends EngineContext {
  logger: Logger;
  /**
   * Aborted when the worker shuts down (after its grace period), when the job is cancelled, or, for
   * backups, when the target lock is lost. `signal.reason` says which (a HavenError). The processor
   * must stop soon after and leave nothing visible; the job is then retried.
   */
  signal: AbortSignal;
  /** Publishes progress to the job (throttled); `haven backup` shows it while it follows the job. */
  onProgress: (event: ProgressEvent) => void;
  /** Shorthand for `onProgress({ phase, bytes })`. */
  reportProgress: (bytes: number, phase?: string) => void;
  job: JobInfo;
}

/** Facts about a BullMQ job, as processors and logs see them. */
export function jobInfo(job: Job, queue: QueueKind): JobInfo {
  const info: JobInfo = {
    id: job.id ?? "(no id)",
    queue,
    attempt: job.attemptsMade + 1,
    maxAttempts: job.opts.attempts ?? 1,
  };
  if (job.repeatJobKey) info.schedulerId = job.repeatJobKey;
  if (job.repeatJobKey && typeof job.opts.prevMillis === "number") {
    info.scheduledAt = new Date(job.opts.prevMillis).toISOString();
  }
  return info;
}

export interface ProgressPublisher {
  publish(event: ProgressEvent): void;
  /** Sends the last pending event and waits for it; later events are dropped. */
  flush(): Promise<void>;
}

/**
 * Each `job.updateProgress` is a Redis write plus an event to every listener, and a stream reports
 * progress per chunk: publish at most once per `intervalMs`, always the newest event. Failures to
 * publish are logged and never fail the run.
 */
export function progressPublisher(job: Job, intervalMs: number, logger: Logger): ProgressPublisher {
  let pending: ProgressEvent | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastSent = 0;
  let closed = false;
  let sending: Promise<void> = Promise.resolve();

  const send = () => {
    timer = undefined;
    const event = pending;
    pending = undefined;
    if (!event) return;
    lastSent = Date.now();
    sending = sending
      .then(() => job.updateProgress({ ...event }))
      .catch((error: unknown) => {
        logger.debug(
          { err: error instanceof Error ? error.message : String(error) },
          "could not publish progress",
        );
      });
  };

  return {
    publish(event) {
      if (closed) return;
      pending = event;
      if (timer) return;
      timer = setTimeout(send, Math.max(0, lastSent + intervalMs - Date.now()));
      timer.unref();
    },
    async flush() {
      closed = true;
      clearTimeout(timer);
      send();
      await sending;
    },
  };
}
