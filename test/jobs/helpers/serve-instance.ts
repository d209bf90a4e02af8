/**
 * A minimal `haven serve` for the two-instances test, run as a child process: reconcile the
 * schedules from HAVEN_TEST_CONFIG, run the workers on HAVEN_TEST_PREFIX, and record every backup
 * execution in Redis (`<prefix>:test:runs`). Prints "ready" once both are done; SIGTERM closes.
 */
import { hostname } from "node:os";
import { parseConfigText } from "../../../src/config/load";
import { connectRedis } from "../../../src/jobs/connection";
import { openQueues } from "../../../src/jobs/queues";
import { reconcileSchedules } from "../../../src/jobs/schedules";
import { installShutdown } from "../../../src/jobs/shutdown";
import { startWorkers } from "../../../src/jobs/workers";
import { createLogger } from "../../../src/lib/logger";

async function main(): Promise<void> {
  const prefix = process.env.HAVEN_TEST_PREFIX as string;
  const config = parseConfigText(process.env.HAVEN_TEST_CONFIG as string, "<serve-instance>");
  const logger = createLogger({ level: "warn" });
  const connection = await connectRedis(config.redis, { role: "worker", logger });
  const queues = openQueues(connection, { prefix });
  await reconcileSchedules(config, queues, logger);
  const workers = await startWorkers({
    config,
    connection,
    prefix,
    logger,
    processors: {
      backup: async (request, ctx) => {
        const startedAt = new Date().toISOString();
        await connection.rpush(
          `${prefix}:test:runs`,
          JSON.stringify({
            job: ctx.job.id,
            scheduledAt: ctx.job.scheduledAt,
            by: `${hostname()}/${process.pid}`,
          }),
        );
        return {
          target: request.target,
          state: "committed",
          destinations: [],
          startedAt,
          finishedAt: startedAt,
          warnings: [],
        };
      },
    },
  });
  installShutdown(workers, logger, {
    afterClose: async () => {
      await queues.close();
      await connection.quit();
    },
  });
  process.stdout.write("ready\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
