import type { HavenConfig } from "../../config/types";
import type { BackupRequest, BackupResult, EngineContext } from "../../engine/types";
import { targetOrThrow } from "../../engine/backup";
import { connectRedis, enqueueBackup, openQueues, waitForResult } from "../../jobs";

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
    const job = await enqueueBackup(queues, request);
    process.stderr.write(`queued backup of ${request.target} as job ${job.id}; waiting for a worker\n`);
    return await waitForResult(queues.backup, job, { signal: ctx.signal, onProgress: ctx.onProgress });
  } finally {
    await queues.close();
    connection.disconnect();
  }
}
