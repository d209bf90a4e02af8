/**
 * The MySQL/MariaDB probe: dump tool and client present, server reachable and the login accepted,
 * the schema there, and the grants a dump needs: a schema-only dump (routines, triggers, events,
 * views) to /dev/null, then `SELECT ... LIMIT 0` on every table. Read-only; never throws.
 *
 * Limit: MySQL hides tables a login has no privilege on at all, and mysqldump then leaves them out
 * without an error; no probe can see them. Grant the backup user privileges on the whole schema (db.*).
 */
import { describeError, isHavenError } from "../../lib/errors";
import { spawnTool, toolError } from "../process";
import type { ProbeResult } from "../types";
import { mysqlQuery } from "./client";
import {
  describeMysql,
  quoteIdentifier,
  quoteString,
  writeOptionFile,
  type MysqlConnection,
} from "./connection";
import { classifyMysqlStderr } from "./errors";
import { discoverMysqlTools, flavorOf, pickTool, type MysqlTool, type MysqlToolset } from "./tools";

type Check = ProbeResult["checks"][number];

export async function probeMysql(resolve: () => MysqlConnection, signal: AbortSignal): Promise<ProbeResult> {
  const checks: Check[] = [];
  const result = () => ({ ok: checks.every((c) => c.ok), checks });
  const fail = (name: string, error: unknown) =>
    checks.push({
      name,
      ok: false,
      detail: errorText(error),
      hint: isHavenError(error) ? error.hint : undefined,
    });

  let conn: MysqlConnection;
  try {
    conn = resolve();
  } catch (error) {
    fail("config", error);
    return result();
  }
  let toolset: MysqlToolset;
  let client: MysqlTool;
  try {
    toolset = await discoverMysqlTools(signal);
    client = pickTool(toolset, "client");
  } catch (error) {
    fail("tools", error);
    return result();
  }

  let version: string;
  try {
    const [row] = await mysqlQuery(conn, client, "select version(), current_user()", { signal });
    version = row?.[0] ?? "";
    checks.push({
      name: "connection",
      ok: true,
      detail: `${version} at ${describeMysql(conn)} (${row?.[1] ?? "?"})`,
    });
  } catch (error) {
    fail("connection", error);
    return result();
  }

  let dumpTool: MysqlTool;
  try {
    dumpTool = pickTool(toolset, "dump", flavorOf(version));
    const matches = dumpTool.flavor === flavorOf(version);
    checks.push({
      name: "tools",
      ok: true,
      detail: `${dumpTool.version}${matches ? "" : ` (a ${dumpTool.flavor} tool for a ${flavorOf(version)} server: install the matching client for the best dumps)`}`,
    });
  } catch (error) {
    fail("tools", error);
    return result();
  }

  try {
    await schemaOnlyDump(conn, dumpTool, signal);
    await selectEveryTable(conn, client, signal);
    checks.push({
      name: "permissions",
      ok: true,
      detail: "tables, views, routines, triggers and events are readable",
    });
  } catch (error) {
    fail("permissions", error);
  }
  return result();
}

async function schemaOnlyDump(conn: MysqlConnection, tool: MysqlTool, signal: AbortSignal): Promise<void> {
  const optionFile = await writeOptionFile(conn, tool.flavor);
  try {
    const dump = spawnTool({
      command: tool.command,
      args: [
        `--defaults-file=${optionFile.path}`,
        "--no-data",
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--no-tablespaces",
        conn.database,
      ],
      stdout: "ignore",
      signal,
      secrets: [conn.password],
      timeoutMs: 120_000,
    });
    const exit = await dump.exit;
    if (!exit.ok) throw toolError(tool.command, exit, classifyMysqlStderr);
  } finally {
    await optionFile.remove();
  }
}

async function selectEveryTable(
  conn: MysqlConnection,
  client: MysqlTool,
  signal: AbortSignal,
): Promise<void> {
  const tables = await mysqlQuery(
    conn,
    client,
    `select TABLE_NAME from information_schema.TABLES where TABLE_SCHEMA = ${quoteString(conn.database)} and TABLE_TYPE = 'BASE TABLE'`,
    { signal },
  );
  if (tables.length === 0) return;
  const sql = tables.map(([name]) => `select 1 from ${quoteIdentifier(name ?? "")} limit 0;`).join("\n");
  await mysqlQuery(conn, client, sql, { signal });
}

function errorText(error: unknown): string {
  return isHavenError(error) ? error.message : describeError(error);
}
