import type { HavenConfig } from "../../config/types";
import type { BackupRequest, BackupResult, EngineContext } from "../../engine/types";
import { targetOrThrow } from "../../engine/backup";
import { connectRedis, describeRedisUrl, enqueueBackup, openQueues, waitForResult } from "../../jobs";
import { describeError, ExitCode, HavenError } from "../../lib/errors";

/** How often a follower checks that some worker still listens; tests shorten it. */
const WORKER_POLL_MS = 10_000;
/**
 * Polls in a row that found no worker before the follower gives up: one could fall between a
 * worker's stop and its restart (a deploy), three cannot.
 */
const POLLS_WITHOUT_WORKER = 3;

export interface QueuedBackupOptions {
  /** Default 10 s. */
  workerPollMs?: number;
}

/** `haven backup TARGET` without --direct: queue the backup for the workers and follow it. */
export async function runQueuedBackup(
  config: HavenConfig,
  request: BackupRequest,
  ctx: EngineContext,
  options: QueuedBackupOptions = {},
): Promise<BackupResult> {
  targetOrThrow(config, request.target);
  const connection = await connectRedis(config.redis, { role: "client", logger: ctx.logger });
  const queues = openQueues(connection, { prefix: config.queuePrefix });
  try {
    if ((await workerCount(queues.backup)) === 0) {
      throw new HavenError(
        "TRANSIENT",
        `no Haven worker is running on ${describeRedisUrl(config.redis)} (queue prefix ${config.queuePrefix}): nothing would take this backup`,
        {
          hint: "start `haven serve` or `haven worker` with this config, or run the backup in this process with --direct",
          exitCode: ExitCode.FAILED,
        },
      );
    }
    const job = await enqueueBackup(queues, request);
    process.stderr.write(`queued backup of ${request.target} as job ${job.id}; waiting for a worker\n`);
    const everyMs = options.workerPollMs ?? WORKER_POLL_MS;
    return await waitForResult(queues.backup, job, {
      signal: ctx.signal,
      onProgress: ctx.onProgress,
      onRetry: ({ attempt, of, error, nextAt }) =>
        process.stderr.write(
          `attempt ${attempt} of ${of} of job ${job.id} failed: ${describeError(error)}\n` +
            `  the next attempt starts at ${nextAt.toISOString().replace(/\.\d+Z$/, "Z")} (Ctrl-C stops following; the job keeps its retries)\n`,
        ),
      // A worker that died mid-run leaves the job active until another worker's stalled-job check
      // hands it on: with no worker left, nothing ever would, and the follower would wait forever.
      watch: { everyMs, check: workersGone(queues.backup, `${job.id}`, config, everyMs) },
    });
  } finally {
    await queues.close();
    connection.disconnect();
  }
}

/** The follower's check: an error once POLLS_WITHOUT_WORKER polls in a row found no worker listening. */
function workersGone(
  queue: { getWorkers(): Promise<unknown[]> },
  jobId: string,
  config: HavenConfig,
  everyMs: number,
): () => Promise<HavenError | undefined> {
  let missed = 0;
  return async () => {
    missed = (await workerCount(queue)) === 0 ? missed + 1 : 0;
    if (missed < POLLS_WITHOUT_WORKER) return undefined;
    const seconds = Math.round((missed * everyMs) / 1000);
    return new HavenError(
      "TRANSIENT",
      `no Haven worker has been running on ${describeRedisUrl(config.redis)} (queue prefix ${config.queuePrefix}) for ${seconds} s, and job ${jobId} is unfinished: it stays queued until a worker starts`,
      {
        hint: "start `haven serve` or `haven worker` with this config: it takes the job up (an attempt cut off mid-run is retried once its lock expires); `haven snapshots TARGET` shows the snapshot once committed",
        exitCode: ExitCode.FAILED,
      },
    );
  };
}

/**
 * Workers listening on the queue, or -1 where the server will not say (CLIENT LIST disabled on some
 * managed Redis): then the backup is queued and followed as before.
 */
async function workerCount(queue: { getWorkers(): Promise<unknown[]> }): Promise<number> {
  try {
    return (await queue.getWorkers()).length;
  } catch {
    return -1;
  }
}
