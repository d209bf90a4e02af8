/** Real Redis for the jobs tests: REDIS_URL or the local server. */
import type { Redis } from "ioredis";
import { connectRedis } from "../../../src/jobs/connection";
import { Secret } from "../../../src/lib/secret";

export const redisUrl = new Secret(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");

export function connectTestRedis(): Promise<Redis> {
  return connectRedis(redisUrl, { role: "worker", connectionName: "haven-jobs-test" });
}

/** Deletes every key under `prefix:` (queues, schedulers, locks, test records). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}
