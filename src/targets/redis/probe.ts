/**
 * The Redis probe: a redis-cli that can write an RDB to stdout, the server reachable and the login
 * accepted, and the replication commands a snapshot needs allowed for the login (ACL DRYRUN, when the
 * login may run it). Read-only; never throws.
 */
import type { Redis } from "ioredis";
import { describeError, isHavenError } from "../../lib/errors";
import { runTool, toolVersion } from "../process";
import type { ProbeResult } from "../types";
import { serverInfo, withRedis } from "./client";
import { describeRedis, type RedisConnection } from "./connection";

type Check = ProbeResult["checks"][number];

const PERMISSION_HINT =
  "the backup user needs the replication commands: ACL SETUSER <user> +sync +psync +replconf +info +ping";

export async function probeRedis(resolve: () => RedisConnection, signal: AbortSignal): Promise<ProbeResult> {
  const checks: Check[] = [];
  const result = () => ({ ok: checks.every((c) => c.ok), checks });
  const fail = (name: string, error: unknown, hint?: string) =>
    checks.push({
      name,
      ok: false,
      detail: isHavenError(error) ? error.message : describeError(error),
      hint: hint ?? (isHavenError(error) ? error.hint : undefined),
    });

  try {
    const version = await toolVersion("redis-cli", signal);
    const help = await runTool({ command: "redis-cli", args: ["--help"], signal, timeoutMs: 15_000 }).catch(
      (error: unknown) => (isHavenError(error) ? error.message : ""),
    );
    if (/filename of "-"/.test(help)) checks.push({ name: "redis-cli", ok: true, detail: version });
    else {
      checks.push({
        name: "redis-cli",
        ok: false,
        detail: `${version} cannot stream an RDB to stdout (--rdb -)`,
        hint: "install redis-tools 7 or newer",
      });
    }
  } catch (error) {
    fail("redis-cli", error, "install redis-tools (redis-cli)");
  }

  let conn: RedisConnection;
  try {
    conn = resolve();
  } catch (error) {
    fail("config", error);
    return result();
  }
  try {
    await withRedis(conn, signal, async (client) => {
      const info = await serverInfo(client);
      checks.push({
        name: "connection",
        ok: true,
        detail: `Redis ${info.version} at ${describeRedis(conn)}, ${info.keys} keys`,
      });
      checks.push(await replicationAllowed(client, info.user));
    });
  } catch (error) {
    fail("connection", error);
  }
  return result();
}

async function replicationAllowed(client: Redis, user: string): Promise<Check> {
  const denied: string[] = [];
  for (const command of ["sync", "replconf"]) {
    let answer: unknown;
    try {
      answer = await client.call("ACL", "DRYRUN", user, command);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // Older servers have no DRYRUN, and a restricted login may not run ACL at all: say so, do not fail.
      return {
        name: "permissions",
        ok: true,
        detail: `not checked (${message.split("\n")[0]}); the backup itself will tell`,
      };
    }
    if (String(answer) !== "OK") denied.push(command.toUpperCase());
  }
  if (denied.length === 0)
    return { name: "permissions", ok: true, detail: `${user} may run SYNC and REPLCONF` };
  return {
    name: "permissions",
    ok: false,
    detail: `${user} may not run ${denied.join(", ")}`,
    hint: PERMISSION_HINT,
  };
}
