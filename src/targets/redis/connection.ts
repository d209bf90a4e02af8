/**
 * One Redis connection description, from a target's `url` (redis:// or rediss://) and fields (fields
 * win), for ioredis in-process and for redis-cli. redis-cli gets the password through REDISCLI_AUTH
 * in its environment, never as `-a` on its command line, where `ps` shows it.
 */
import type { RedisOptions } from "ioredis";
import { readFileSync } from "node:fs";
import type { TargetConfigOf } from "../../config/types";
import { refuseUnsupportedUrlParameters } from "../../config/url-schemes";
import { HavenError } from "../../lib/errors";
import { Secret, decodeUrlPart } from "../../lib/secret";
import { toolEnv } from "../process";

export interface RedisConnection {
  host: string;
  port: number;
  /** ACL user; none means the `default` user. */
  username?: string;
  password?: Secret;
  tls?: { ca?: string; rejectUnauthorized: boolean };
}

type RedisTargetConnection = Pick<
  TargetConfigOf<"redis">,
  "name" | "url" | "host" | "port" | "user" | "password" | "tls"
>;

/** Defaults: 127.0.0.1:6379, no TLS unless the url is rediss:// or `tls.enabled`. */
export function resolveRedisConnection(target: RedisTargetConnection): RedisConnection {
  const fromUrl = target.url ? parseRedisUrl(target.url, target.name) : {};
  const tlsWanted = target.tls ? target.tls.enabled : fromUrl.tls !== undefined;
  return {
    host: target.host ?? fromUrl.host ?? "127.0.0.1",
    port: target.port ?? fromUrl.port ?? 6379,
    username: target.user ?? fromUrl.username,
    password: target.password ?? fromUrl.password,
    tls: tlsWanted
      ? { ca: target.tls?.ca, rejectUnauthorized: target.tls?.rejectUnauthorized ?? true }
      : undefined,
  };
}

function parseRedisUrl(url: Secret, target: string): Partial<RedisConnection> {
  let parsed: URL;
  try {
    parsed = new URL(url.reveal());
  } catch {
    throw new HavenError("CONFIG", `target ${target}: url is not a valid URL`, {
      hint: "use redis://host:6379 or rediss://host:6380 (the password in passwordFile)",
    });
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new HavenError("CONFIG", `target ${target}: url must start with redis:// or rediss://`);
  }
  refuseUnsupportedUrlParameters("redis", parsed, target);
  const decode = (text: string) => (text ? decodeUrlPart(text) : undefined);
  return {
    host: decode(parsed.hostname),
    port: parsed.port ? Number(parsed.port) : undefined,
    username: decode(parsed.username),
    password: parsed.password ? new Secret(decodeUrlPart(parsed.password)) : undefined,
    tls: parsed.protocol === "rediss:" ? { rejectUnauthorized: true } : undefined,
  };
}

/** Options for ioredis: fail fast (no retries, no offline queue), as a probe or a backup wants. */
export function ioredisOptions(conn: RedisConnection): RedisOptions {
  return {
    host: conn.host,
    port: conn.port,
    username: conn.username,
    password: conn.password?.reveal(),
    tls: conn.tls
      ? {
          ca: conn.tls.ca ? readFileSync(conn.tls.ca, "utf8") : undefined,
          rejectUnauthorized: conn.tls.rejectUnauthorized,
          servername: conn.host,
        }
      : undefined,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 10_000,
  };
}

/** Arguments and environment of a redis-cli run against `conn`. */
export function redisCliInvocation(conn: RedisConnection): { args: string[]; env: NodeJS.ProcessEnv } {
  const args = ["-h", conn.host, "-p", String(conn.port), "--no-auth-warning"];
  if (conn.username) args.push("--user", conn.username);
  if (conn.tls) {
    args.push("--tls", "--sni", conn.host);
    if (conn.tls.ca) args.push("--cacert", conn.tls.ca);
    if (!conn.tls.rejectUnauthorized) args.push("--insecure");
  }
  return { args, env: toolEnv(["REDISCLI_"], { REDISCLI_AUTH: conn.password?.reveal() }) };
}

export function describeRedis(conn: RedisConnection): string {
  return `${conn.tls ? "rediss" : "redis"}://${conn.host}:${conn.port}${conn.username ? ` as ${conn.username}` : ""}`;
}
