/**
 * Redis connections for the jobs layer. The URL comes from the config's `redis` key (a Secret,
 * since it may hold a password), so messages name only the host and port.
 */
import { Redis, type RedisOptions } from "ioredis";
import { HavenError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import type { Secret } from "../lib/secret";

/**
 * - `worker`: for BullMQ workers and queue events: commands wait for Redis to come back instead of
 *   failing (`maxRetriesPerRequest: null`, which BullMQ requires of blocking connections).
 * - `client`: for short-lived producers (the CLI enqueueing a job): commands fail after a few
 *   reconnect attempts, so an operator is not left waiting on a dead Redis.
 */
export type ConnectionRole = "worker" | "client";

export interface ConnectRedisOptions {
  role: ConnectionRole;
  /** Time allowed for the first connection. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Shown by `CLIENT LIST` on the server; default "haven". */
  connectionName?: string;
  /** Receives connection errors after the first connection (ioredis then reconnects on its own). */
  logger?: Logger;
  /**
   * Gives up the first connection. `connectTimeoutMs` bounds only the TCP connect; a server that
   * accepts it and never answers would keep the ready check waiting for ever.
   */
  signal?: AbortSignal;
}

/** `host:port/db` of a Redis URL, without user or password, for messages and logs. */
export function describeRedisUrl(url: Secret): string {
  try {
    const parsed = new URL(url.reveal());
    const db = parsed.pathname.length > 1 ? parsed.pathname : "";
    return `${parsed.protocol}//${parsed.hostname}:${parsed.port || "6379"}${db}`;
  } catch {
    return "(unparsable Redis URL)";
  }
}

/** ioredis options for a role; exported so that callers that let BullMQ connect get the same. */
export function redisOptions(
  role: ConnectionRole,
  connectTimeoutMs = 5000,
  connectionName = "haven",
): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    connectionName,
    maxRetriesPerRequest: role === "worker" ? null : 3,
    // After `disconnect()`, a socket that does not close is destroyed this much later (ioredis's
    // default, 2 s, keeps a process that failed to connect alive for that long).
    disconnectTimeout: 200,
    // Reconnect with a capped backoff; a worker rides out a Redis restart instead of exiting.
    retryStrategy: (times) => Math.min(times * 200, 5000),
  };
}

/**
 * Opens a Redis connection and waits until it answers PING. Throws HavenError TRANSIENT, with a hint
 * naming the config key, when Redis cannot be reached: the caller (serve, worker, the CLI) reports it
 * at start rather than hanging. The caller owns the connection and must `quit()` it.
 */
export async function connectRedis(url: Secret, options: ConnectRedisOptions): Promise<Redis> {
  const where = describeRedisUrl(url);
  let redis: Redis;
  try {
    redis = new Redis(
      url.reveal(),
      redisOptions(options.role, options.connectTimeoutMs, options.connectionName),
    );
  } catch (error) {
    throw new HavenError("CONFIG", `the Redis URL is not valid (${where})`, {
      hint: "check `redis:` in the config (or REDIS_URL): it should look like redis://host:6379",
      cause: error,
    });
  }
  // An 'error' event without a listener would crash the process, so there is always one. Before the
  // first connection, connect() rejects with a bare "Connection is closed."; the cause (refused,
  // WRONGPASS) arrives as an 'error' event just before it, so keep that.
  let connected = false;
  let firstError: Error | undefined;
  redis.on("error", (error: Error) => {
    if (!connected) firstError ??= error;
    else options.logger?.warn({ err: error.message, redis: where }, "Redis connection error; reconnecting");
  });
  const onAbort = () => redis.disconnect();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    options.signal?.throwIfAborted();
    await redis.connect();
    await redis.ping();
    connected = true;
    return redis;
  } catch (error) {
    redis.disconnect();
    const cause: unknown = firstError ?? error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    if (/WRONGPASS|NOAUTH|NOPERM/.test(reason)) {
      throw new HavenError("CREDENTIALS", `Redis at ${where} refused the credentials: ${reason}`, {
        hint: "check the user and password in `redis:` in the config (or REDIS_URL)",
        cause,
      });
    }
    throw new HavenError("TRANSIENT", `cannot reach Redis at ${where}: ${reason}`, {
      hint: "check `redis:` in the config (or REDIS_URL) and that Redis is running and reachable from this host",
      cause,
    });
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}
