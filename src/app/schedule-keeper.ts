/**
 * The job schedulers `serve` applies live in Redis, with everything else there. A Redis that comes
 * back without its data (no persistence, a failover to an empty replica, a FLUSHALL) loses every one
 * of them, the watchdog's included: no backup, verification or report runs again, and nothing alerts
 * about it, until someone restarts `serve`. So `serve` looks every minute for the config names it
 * published with its schedules (`PublishedEstate`), and when they are gone it applies its schedules
 * again, as at start. Only then: re-applying while they are there would turn the last-writer-wins of
 * two serves with different configs into each undoing the other every minute.
 */
import type { Redis } from "ioredis";
import type { HavenConfig } from "../config/types";
import { reconcileSchedules, type HavenQueues, type SchedulePlan } from "../jobs";
import type { Logger } from "../lib/logger";
import { PublishedEstate } from "./published-estate";

/** How often `serve` checks that its schedules are still in Redis. */
export const SCHEDULE_CHECK_MS = 60_000;

/** Reconciles the config's schedules and publishes its names, the marker that they were applied. */
export async function applySchedules(
  config: HavenConfig,
  queues: HavenQueues,
  redis: Redis,
  logger: Logger,
): Promise<SchedulePlan> {
  const plan = await reconcileSchedules(config, queues, logger);
  await new PublishedEstate(redis, config.queuePrefix).publish(config);
  return plan;
}

export interface ScheduleKeeper {
  /** Stops checking; a check in flight is left to finish on its own. */
  stop(): void;
}

/** Starts the check described at the top of this file. */
export function keepSchedules(
  config: HavenConfig,
  queues: HavenQueues,
  redis: Redis,
  logger: Logger,
  everyMs = SCHEDULE_CHECK_MS,
): ScheduleKeeper {
  const estate = new PublishedEstate(redis, config.queuePrefix);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    if ((await estate.read()) !== undefined || stopped) return;
    logger.warn("the job schedulers' marker is gone from Redis (its data was lost): applying them again");
    await applySchedules(config, queues, redis, logger);
  };
  const next = () => {
    if (stopped) return;
    // One check at a time: with Redis down a check waits for the reconnect, however long.
    timer = setTimeout(() => {
      check()
        .catch((error: unknown) =>
          logger.warn(
            { err: error instanceof Error ? error.message : String(error) },
            "could not check the job schedulers in Redis; trying again later",
          ),
        )
        .finally(next);
    }, everyMs);
    timer.unref();
  };
  next();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
