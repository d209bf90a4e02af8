/** The alert state and channels of a loaded config, the same for `serve`, `worker` and the CLI. */
import type { Redis } from "ioredis";
import type { HavenConfig } from "../config/types";
import type { Logger } from "../lib/logger";
import { createChannels } from "./channels/index";
import { IncidentManager } from "./incidents";

/** Default of `alerts.repeat`: how often an open incident is notified again. */
const DEFAULT_REPEAT_MS = 4 * 3_600_000;

export function incidentManagerFor(config: HavenConfig, redis: Redis, logger: Logger): IncidentManager {
  return new IncidentManager({
    redis,
    channels: createChannels(config.alerts, { logger }),
    repeatMs: config.alerts?.repeat ?? DEFAULT_REPEAT_MS,
    prefix: `${config.queuePrefix}:alerts`,
    logger,
  });
}
