/**
 * A Redis connection for a CLI command that can do its work without one (a direct backup, a report
 * sent by hand): a short wait, then `undefined` with the caller's warning logged. Not the jobs index:
 * that loads BullMQ, which these commands do not need.
 */
import type { Redis } from "ioredis";
import type { HavenConfig } from "../config/types";
import type { Logger } from "../lib/logger";

/** How long a command waits for Redis before it goes on without it. */
const REDIS_WAIT_MS = 2000;

/** The connection (the caller disconnects it), or undefined after logging `withoutIt`. */
export async function connectRedisIfUp(
  config: HavenConfig,
  logger: Logger,
  options: { connectionName: string; withoutIt: string; context?: Record<string, unknown> },
): Promise<Redis | undefined> {
  const { connectRedis } = await import("../jobs/connection");
  try {
    return await connectRedis(config.redis, {
      role: "client",
      logger,
      connectTimeoutMs: REDIS_WAIT_MS,
      connectionName: options.connectionName,
    });
  } catch (error) {
    logger.warn(
      { ...options.context, err: error instanceof Error ? error.message : String(error) },
      `Redis does not answer: ${options.withoutIt}`,
    );
    return undefined;
  }
}
