/**
 * The job schedulers `serve` applies live in Redis, with everything else there. A Redis that comes
 * back without its data (no persistence, a failover to an empty replica, a FLUSHALL) loses every one
 * of them, the watchdog's included: no backup, verification or report runs again, and nothing alerts
 * about it, until someone restarts `serve`. So `serve` looks every minute for the config names it
 * published with its schedules (`PublishedEstate`), and when they are gone it applies its schedules
 * again, as at start. Only then: re-applying while they are there would turn the last-writer-wins of
 * two serves with different configs into each undoing the other every minute. When the marker is
 * another config's, the older serve says so (once per config): its own schedules are no longer the
 * ones that run, which nobody would learn otherwise.
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
  const reported = new Set<string>();
  const check = async () => {
    const published = await estate.read();
    if (stopped) return;
    if (published !== undefined) {
      const other = published.sha256;
      if (other !== undefined && other !== config.sha256 && !reported.has(other)) {
        reported.add(other);
        logger.warn(
          { config: config.source, otherSha256: other, since: published.at?.toISOString() },
          "another serve started with a different config: the job schedulers in Redis are now that config's, not this one's; run every serve with the same config, or stop the one that should not run",
        );
      }
      return;
    }
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
