/**
 * MySQL / MariaDB scratch place: a temporary schema `haven_verify_<target>_<time>_<random>` (names.ts)
 * on the target's server, or on the server of `verify.into` (a mysql:// URL) when set. The adapter's
 * restore creates it and loads the dump through the mariadb / mysql client, its events disabled
 * (mysql-events.ts); cleanup kills every connection using the schema, then drops it. The same drop
 * removes what crashed tests left on that server (sweep.ts).
 *
 * Row counts in the manifest are keyed "<source schema>.<table>" (the dump's own names); the same
 * tables live in the scratch schema under the same table names.
 */
import type { Logger } from "pino";
import type { TargetConfigOf } from "../../config/types";
import { HavenError } from "../../lib/errors";
import { createAdapter } from "../../targets";
import { mysqlQuery } from "../../targets/mysql/client";
import {
  describeMysql,
  quoteIdentifier,
  quoteString,
  resolveMysqlConnection,
  type MysqlConnection,
  type MysqlFlavor,
} from "../../targets/mysql/connection";
import { discoverMysqlTools, flavorOf, pickTool, type MysqlTool } from "../../targets/mysql/tools";
import { recordedTables, rowCountChecks } from "../checks";
import { withEventsDisabled } from "./mysql-events";
import { DATABASE_FORMAT, scratchDatabaseName, scratchDatabasePrefix } from "./names";
import { sweepLeftovers } from "./sweep";
import { CLEANUP_TIMEOUT_MS, scratchServer, type ScratchPlace } from "./types";

function scratchConnection(target: TargetConfigOf<"mysql">, name: string): MysqlConnection {
  return scratchServer(target, name, resolveMysqlConnection, () => resolveMysqlConnection(target));
}

/** The client matching the server's flavour, and that flavour, found on first use. */
function clientFor(
  conn: MysqlConnection,
): (signal?: AbortSignal) => Promise<{ tool: MysqlTool; server: MysqlFlavor }> {
  let found: { tool: MysqlTool; server: MysqlFlavor } | undefined;
  return async (signal) => {
    if (found) return found;
    const toolset = await discoverMysqlTools(signal);
    const version = (
      await mysqlQuery(conn, pickTool(toolset, "client"), "select version()", { database: null, signal })
    )[0]?.[0];
    const server = flavorOf(version ?? "");
    found = { tool: pickTool(toolset, "client", server), server };
    return found;
  };
}

/**
 * The row counts of `tables` in `schema`, as rows of (manifest key, count), in one round trip (each
 * client run is a process). A per-user statement time limit is lifted for the session first
 * (MariaDB's max_statement_time, MySQL's max_execution_time from 5.7.8): a limit meant for
 * application queries cut count(*) on a large restored table and failed the restore test of a good
 * snapshot.
 */
export function countQuery(
  server: MysqlFlavor,
  schema: string,
  tables: Array<{ key: string; table: string }>,
): string {
  const unlimited =
    server === "mariadb"
      ? "set session max_statement_time = 0;"
      : "/*!50708 set session max_execution_time = 0 */;";
  const counts = tables
    .map(
      (t) =>
        `select ${quoteString(t.key)}, count(*) from ${quoteIdentifier(schema)}.${quoteIdentifier(t.table)}`,
    )
    .join(" union all ");
  return `${unlimited}\n${counts}`;
}

export function mysqlScratch(target: TargetConfigOf<"mysql">, suffix: string, logger: Logger): ScratchPlace {
  const name = scratchDatabaseName(target.name, new Date(), suffix);
  const into = target.verify.into;
  const conn = scratchConnection(target, name);
  const adapter = createAdapter(target, logger);
  const client = clientFor(conn);

  return {
    description: `mysql schema ${describeMysql(conn)}`,
    restore: (body, run, options) =>
      adapter.restore(withEventsDisabled(body), { kind: "database", name, url: into }, run, options),

    async builtInChecks({ manifest, signal }) {
      const expected = recordedTables(manifest.stats);
      if (!expected) return [];
      const sourceSchema = typeof manifest.stats.database === "string" ? manifest.stats.database : undefined;
      const { tool, server } = await client(signal);
      const rows = await mysqlQuery(
        conn,
        tool,
        `select TABLE_NAME from information_schema.TABLES where TABLE_SCHEMA = ${quoteString(name)} and TABLE_TYPE = 'BASE TABLE'`,
        { database: null, signal },
      );
      const present = new Set(rows.map((r) => r[0]));
      const tables = Object.keys(expected).map((key) => ({ key, table: tableName(key, sourceSchema) }));
      const counted = tables.filter((t) => present.has(t.table));
      const actual: Record<string, number | null> = Object.fromEntries(tables.map((t) => [t.key, null]));
      if (counted.length > 0) {
        const sql = countQuery(server, name, counted);
        for (const [key, count] of await mysqlQuery(conn, tool, sql, { database: null, signal })) {
          if (key !== undefined) actual[key] = Number(count);
        }
      }
      return rowCountChecks(expected, actual);
    },

    async query(sql, signal) {
      const rows = await mysqlQuery(conn, (await client(signal)).tool, sql, { signal });
      const row = rows[0];
      return { value: row?.[0], hasRow: row !== undefined };
    },

    cleanup: () => dropSchema(conn, name, client),
  };
}

/** The table name of a manifest key "<schema>.<table>" (the schema may itself contain dots). */
function tableName(key: string, sourceSchema: string | undefined): string {
  if (sourceSchema !== undefined && key.startsWith(`${sourceSchema}.`))
    return key.slice(sourceSchema.length + 1);
  return key.slice(key.indexOf(".") + 1);
}

/**
 * Drops the target's scratch schemas on the scratch server that crashed tests left behind (sweep.ts
 * decides which). Never rejects; returns the names dropped.
 */
export async function sweepMysqlScratch(
  target: TargetConfigOf<"mysql">,
  logger: Logger,
  now: Date = new Date(),
): Promise<string[]> {
  const prefix = scratchDatabasePrefix(target.name);
  const server = scratchConnection(target, prefix);
  const client = clientFor(server);
  return sweepLeftovers(
    {
      where: `mysql schemas on ${describeMysql(server, "")}`,
      format: DATABASE_FORMAT(target.name),
      async list() {
        const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
        const rows = await mysqlQuery(
          server,
          (await client(signal)).tool,
          `select SCHEMA_NAME from information_schema.SCHEMATA where left(SCHEMA_NAME, ${prefix.length}) = ${quoteString(prefix)}`,
          { database: null, signal },
        );
        return rows.flatMap((r) => (r[0] === undefined ? [] : [r[0]]));
      },
      remove: (name) => dropSchema({ ...server, database: name }, name, client),
      byHand: (name) => dropByHand(name),
    },
    logger,
    now,
  );
}

/** Kills the connections that use the schema, then drops it if it exists. Idempotent. */
async function dropSchema(
  conn: MysqlConnection,
  name: string,
  client: ReturnType<typeof clientFor>,
): Promise<void> {
  const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
  try {
    const { tool } = await client(signal);
    const sessions = await mysqlQuery(
      conn,
      tool,
      `select ID from information_schema.PROCESSLIST where DB = ${quoteString(name)} and ID <> connection_id()`,
      { database: null, signal },
    );
    for (const [id] of sessions) {
      // A session that ended meanwhile makes KILL fail; the drop below is what matters.
      if (id && /^\d+$/.test(id))
        await mysqlQuery(conn, tool, `kill ${id}`, { database: null, signal }).catch(() => undefined);
    }
    await mysqlQuery(conn, tool, `drop database if exists ${quoteIdentifier(name)}`, {
      database: null,
      signal,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HavenError("PERMANENT", `could not drop the scratch schema ${describeMysql(conn)}: ${reason}`, {
      hint: dropByHand(name),
      cause: error,
    });
  }
}

function dropByHand(name: string): string {
  return `drop it by hand: mariadb -e 'DROP DATABASE IF EXISTS \`${name}\`'`;
}
