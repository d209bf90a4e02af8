/**
 * What `haven doctor` checks of the Redis that holds Haven's queues, schedules and locks. Redis
 * keeps no copy of any backup, but without it nothing runs on schedule, and a Redis that evicts
 * keys under memory pressure silently drops queued backups, job schedulers and the target locks
 * that keep two backups of one target apart.
 */
import type { Secret } from "../lib/secret";
import { errorParts } from "../lib/errors";
import { connectRedis, describeRedisUrl } from "./connection";

export interface RedisCheck {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/** BullMQ refuses to start its workers on an older server (`RedisConnection.minimumVersion`). */
const MINIMUM_VERSION = [5, 0, 0];

/**
 * Reachable, new enough for BullMQ, and never evicting; never throws, each problem is a row. `signal`
 * ends the check (a server that accepts the connection and never answers), as a failed `reachable`.
 */
export async function checkQueueRedis(url: Secret, signal: AbortSignal): Promise<RedisCheck[]> {
  const where = describeRedisUrl(url);
  let redis: Awaited<ReturnType<typeof connectRedis>>;
  try {
    redis = await connectRedis(url, { role: "client", connectionName: "haven-doctor", signal });
  } catch (error) {
    return [{ check: "reachable", ok: false, ...errorParts(error) }];
  }
  const onAbort = () => redis.disconnect();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const info = parseInfo(await redis.info());
    const version = info.get("valkey_version") ?? info.get("redis_version") ?? "unknown";
    const rows: RedisCheck[] = [{ check: "reachable", ok: true, detail: `${where}, version ${version}` }];
    rows.push(versionCheck(version));
    rows.push(evictionCheck(info.get("maxmemory_policy")));
    return rows;
  } catch (error) {
    return [{ check: "reachable", ok: false, ...errorParts(error) }];
  } finally {
    signal.removeEventListener("abort", onAbort);
    redis.disconnect();
  }
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

function versionCheck(version: string): RedisCheck {
  const parts = version.split(".").map(Number);
  const first = MINIMUM_VERSION.findIndex((least, i) => (parts[i] ?? 0) !== least);
  const tooOld = first >= 0 && (parts[first] ?? 0) < (MINIMUM_VERSION[first] ?? 0);
  // A version we cannot read (a fork's own numbering) is not called too old: BullMQ says so itself.
  if (parts.some(Number.isNaN) || !tooOld) return { check: "version", ok: true, detail: version };
  return {
    check: "version",
    ok: false,
    detail: `Redis ${version} is older than ${MINIMUM_VERSION.join(".")}, which BullMQ's workers need`,
    fix: "upgrade Redis (6.2 or newer is recommended)",
  };
}

function evictionCheck(policy: string | undefined): RedisCheck {
  if (policy === undefined) {
    return { check: "eviction", ok: true, detail: "the server does not report maxmemory_policy" };
  }
  if (policy === "noeviction") return { check: "eviction", ok: true, detail: "maxmemory-policy noeviction" };
  return {
    check: "eviction",
    ok: false,
    detail: `maxmemory-policy is ${policy}: under memory pressure Redis may drop queued backups, job schedulers and target locks`,
    fix: "set maxmemory-policy noeviction (in redis.conf, or CONFIG SET maxmemory-policy noeviction), or give Redis to Haven alone",
  };
}
