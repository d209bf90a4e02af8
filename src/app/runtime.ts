/**
 * A long-running Haven process: `serve` (schedulers + workers) or `worker` (workers only). Owns the
 * Redis connection, the queues and the workers, and closes them in order on SIGTERM/SIGINT.
 */
import type { HavenConfig } from "../config/types";
import {
  connectRedis,
  describeRedisUrl,
  installShutdown,
  openQueues,
  startWorkers,
  type HavenQueues,
  type SchedulePlan,
  type WorkersHandle,
} from "../jobs";
import type { Logger } from "../lib/logger";
import { redisCheck, startHttpServer, type HttpServerHandle } from "../metrics";
import { Monitor } from "./monitoring";
import { applySchedules, keepSchedules, type ScheduleKeeper } from "./schedule-keeper";
import { createProcessors } from "./processors";
import { checkObjectLockDestinations } from "../copy";
import { audit } from "./audit";
import { localActor } from "../audit";

export interface RuntimeHandle {
  queues: HavenQueues;
  workers: WorkersHandle;
  plan?: SchedulePlan;
  monitor: Monitor;
  /** `/metrics` and `/healthz` (serve only). */
  http?: HttpServerHandle;
  close(): Promise<void>;
}

export async function startRuntime(
  config: HavenConfig,
  options: {
    mode: "serve" | "worker";
    logger: Logger;
    installSignals?: boolean;
    http?: boolean;
    /** How often serve checks that its schedules are still in Redis; default `SCHEDULE_CHECK_MS`. */
    scheduleCheckMs?: number;
  },
): Promise<RuntimeHandle> {
  const { logger } = options;
  await checkObjectLockDestinations(config);
  const connection = await connectRedis(config.redis, { role: "worker", logger });
  const queues = openQueues(connection, { prefix: config.queuePrefix });
  let plan: SchedulePlan | undefined;
  if (options.mode === "serve") {
    plan = await applySchedules(config, queues, connection, logger);
    await audit(
      config,
      logger,
      {
        action: "config-reload",
        outcome: "ok",
        actor: localActor(),
        detail: {
          config: config.source,
          sha256: config.sha256,
          created: plan.create.length,
          updated: plan.update.length,
          removed: plan.remove.length,
        },
      },
      { redis: connection },
    );
  }
  const monitor = new Monitor(config, connection, logger);
  // The HTTP port first: a start that fails there (port taken) must not leave workers taking jobs
  // that the process then drops when it exits.
  let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  let workers: Awaited<ReturnType<typeof startWorkers>>;
  try {
    http =
      options.mode === "serve" && options.http !== false
        ? await startHttpServer({
            host: config.http.host,
            port: config.http.port,
            registry: monitor.metrics.registry,
            health: async () => ({ redis: await redisCheck(connection)() }),
            logger,
          })
        : undefined;
    workers = await startWorkers({
      config,
      connection,
      prefix: config.queuePrefix,
      processors: createProcessors(config, monitor, connection),
      logger,
    });
  } catch (error) {
    await http?.close().catch(() => undefined);
    await monitor.close().catch(() => undefined);
    await queues.close().catch(() => undefined);
    connection.disconnect();
    throw error;
  }
  logger.info(
    {
      mode: options.mode,
      redis: describeRedisUrl(config.redis),
      prefix: config.queuePrefix,
      config: config.source,
    },
    `haven ${options.mode} started${http ? `; metrics at ${http.url}/metrics` : ""}`,
  );
  const keeper: ScheduleKeeper | undefined =
    options.mode === "serve"
      ? keepSchedules(config, queues, connection, logger, options.scheduleCheckMs)
      : undefined;
  const closeRest = async () => {
    keeper?.stop();
    await http?.close();
    await monitor.close();
    await queues.close();
    connection.disconnect();
  };
  const handle: RuntimeHandle = {
    queues,
    workers,
    plan,
    monitor,
    http,
    async close() {
      await workers.close();
      await closeRest();
    },
  };
  if (options.installSignals !== false) installShutdown(workers, logger, { afterClose: closeRest });
  return handle;
}
