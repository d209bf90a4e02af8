/** A short-lived ioredis connection for the probe and the backup's statistics. */
import { Redis } from "ioredis";
import { HavenError } from "../../lib/errors";
import { describeRedis, ioredisOptions, type RedisConnection } from "./connection";
import { redisClientError } from "./errors";

export interface RedisServerInfo {
  version: string;
  keyspace: Record<string, number>;
  keys: number;
  /** The ACL user the connection is authenticated as. */
  user: string;
}

/** Runs `fn` on a connected client and always disconnects. Connection failures are classified. */
export async function withRedis<T>(
  conn: RedisConnection,
  signal: AbortSignal,
  fn: (client: Redis) => Promise<T>,
): Promise<T> {
  const client = new Redis(ioredisOptions(conn));
  // A failed AUTH arrives as an 'error' event while connect() only says "Connection is closed":
  // keep the event's error, it is the cause worth reporting.
  let lastError: unknown;
  client.on("error", (error: unknown) => (lastError = error));
  const onAbort = () => client.disconnect();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await client.connect();
    return await fn(client);
  } catch (error) {
    if (signal.aborted) throw new HavenError("CANCELLED", "the run was cancelled");
    if (error instanceof HavenError) throw error;
    const cause = /Connection is closed/.test(String(error)) && lastError ? lastError : error;
    throw redisClientError(`Redis at ${describeRedis(conn)}`, cause, [conn.password]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    await closeQuietly(client);
  }
}

export async function serverInfo(client: Redis): Promise<RedisServerInfo> {
  const server = await client.info("server");
  const keyspaceText = await client.info("keyspace");
  const user = String(await client.call("ACL", "WHOAMI").catch(() => "default"));
  const keyspace: Record<string, number> = {};
  for (const match of keyspaceText.matchAll(/^(db\d+):keys=(\d+)/gm))
    keyspace[match[1] as string] = Number(match[2]);
  return {
    version: /^redis_version:(.+)$/m.exec(server)?.[1]?.trim() ?? "unknown",
    keyspace,
    keys: Object.values(keyspace).reduce((a, b) => a + b, 0),
    user,
  };
}

/**
 * QUIT a ready connection; leave an ended one alone (ioredis' disconnect() would arm a 2 s timer on
 * an already closed socket and keep the process alive for nothing).
 */
export async function closeQuietly(client: Redis): Promise<void> {
  if (client.status === "ready") await client.quit().catch(() => client.disconnect());
  else if (client.status !== "end") client.disconnect();
}
