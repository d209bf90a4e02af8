import type { HavenConfig } from "../../config/types";
import type { BackupRequest, BackupResult, EngineContext } from "../../engine/types";
import { targetOrThrow } from "../../engine/backup";
import { connectRedis, describeRedisUrl, enqueueBackup, openQueues, waitForResult } from "../../jobs";
import { ExitCode, HavenError } from "../../lib/errors";

/** `haven backup TARGET` without --direct: queue the backup for the workers and follow it. */
export async function runQueuedBackup(
  config: HavenConfig,
  request: BackupRequest,
  ctx: EngineContext,
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
    return await waitForResult(queues.backup, job, { signal: ctx.signal, onProgress: ctx.onProgress });
  } finally {
    await queues.close();
    connection.disconnect();
  }
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
