/**
 * Restores a SQL dump through the mariadb / mysql client into the original schema or another one
 * (created when missing). A schema that already holds tables, routines or events is only written
 * over with consent (`force`); the dump then drops and recreates its own tables, routines and events
 * (DROP ... IF EXISTS before each), and leaves other objects alone.
 */
import type { Readable } from "node:stream";
import { HavenError, isHavenError } from "../../lib/errors";
import { Secret } from "../../lib/secret";
import { errorProvesDamage } from "../../verify/damage";
import { ByteCounter, feedTool, spawnTool, toolError } from "../process";
import type { RestoreDestination, RestoreOptions, RestoreStats, RunContext } from "../types";
import { mysqlQuery } from "./client";
import {
  describeMysql,
  quoteIdentifier,
  quoteString,
  resolveMysqlConnection,
  writeOptionFile,
  type MysqlConnection,
} from "./connection";
import type { LockWatch } from "../lock-watch";
import { classifyMysqlStderr } from "./errors";
import { watchMetadataLockWaits } from "./lock-watch";
import { discoverMysqlTools, flavorOf, pickTool, type MysqlTool } from "./tools";

export async function restoreMysql(
  targetName: string,
  source: MysqlConnection,
  body: Readable,
  to: RestoreDestination,
  run: RunContext,
  opts: RestoreOptions = {},
): Promise<RestoreStats> {
  let conn: MysqlConnection;
  let client: MysqlTool;
  let created: boolean;
  try {
    conn = destinationConnection(targetName, source, to);
    const toolset = await discoverMysqlTools(run.signal);
    const first = pickTool(toolset, "client");
    const version = (await mysqlQuery(conn, first, "select version()", { database: null }))[0]?.[0] ?? "";
    client = pickTool(toolset, "client", flavorOf(version));
    created = await prepareSchema(conn, client, opts.force === true, run);
  } catch (error) {
    body.destroy();
    throw error;
  }

  let optionFile: Awaited<ReturnType<typeof writeOptionFile>> | undefined;
  let lockWatch: LockWatch | undefined;
  const counter = new ByteCounter();
  try {
    await opts.beforeWrite?.();
    optionFile = await writeOptionFile(conn, client.flavor);
    const restore = spawnTool({
      command: client.command,
      // --binary-mode: the dump's bytes go to the server as they are (no \0 or \C interpretation).
      args: [
        `--defaults-file=${optionFile.path}`,
        "--binary-mode",
        // MariaDB's client prints the whole failing statement, rows and all (see targets/row-data.ts).
        ...(client.flavor === "mariadb" ? ["--skip-print-query-on-error"] : []),
        `--database=${conn.database}`,
      ],
      stdin: "pipe",
      stdout: "ignore",
      signal: run.signal,
      secrets: [conn.password],
      logger: run.logger,
    });
    run.logger.info({ database: describeMysql(conn), created }, "restore started");
    // Only an existing schema has sessions that can hold its tables' metadata locks.
    lockWatch = created ? undefined : watchMetadataLockWaits(conn, client, run);
    const exit = await feedTool(restore, body, counter);
    if (!exit.ok)
      throw toolError(client.command, exit, classifyMysqlStderr, `read ${client.command}'s error above`);
    return { bytes: counter.bytes, database: conn.database, created };
  } catch (error) {
    body.destroy();
    if (created) await dropSchema(conn, client, run);
    else if (counter.bytes > 0) throw partlyReplaced(error, conn);
    throw error;
  } finally {
    await lockWatch?.stop();
    await optionFile?.remove();
  }
}

/**
 * MySQL cannot roll back DDL: the dump drops and recreates table after table, so a restore over a
 * schema that fails half way leaves some tables replaced, one maybe half loaded, the rest as they were.
 * When the snapshot is intact (a network or server failure), restoring it again completes the schema.
 */
function partlyReplaced(error: unknown, conn: MysqlConnection): HavenError {
  const haven = isHavenError(error)
    ? error
    : new HavenError("TRANSIENT", error instanceof Error ? error.message : String(error), { cause: error });
  // Restoring a damaged snapshot again would fail at the same byte, after the same DROPs.
  const hint = errorProvesDamage(haven)
    ? `this snapshot is damaged, so restoring it again cannot complete the schema: ${haven.hint ?? "restore an older snapshot or a copy from another destination"}`
    : `run the same restore again to complete it (the snapshot is intact), or restore into a new schema with --to and switch the application over${haven.hint ? `; ${haven.hint}` : ""}`;
  return new HavenError(
    haven.code,
    `${haven.message}; schema ${conn.database} is now partly replaced (MySQL cannot roll back the dump's DROP and CREATE statements)`,
    { hint, cause: haven },
  );
}

function destinationConnection(
  targetName: string,
  source: MysqlConnection,
  to: RestoreDestination,
): MysqlConnection {
  if (to.kind === "original") return source;
  if (to.kind === "database") {
    if (!to.url) return { ...source, database: to.name };
    return resolveMysqlConnection({ name: targetName, url: new Secret(to.url), database: to.name });
  }
  throw new HavenError("USAGE", "a MySQL snapshot restores into a schema, not a path", {
    hint: "use --to <schema name>; to get the SQL file itself, follow the recipe in the manifest",
  });
}

/** Creates the schema when missing (returns true); refuses one with objects in it unless `force`. */
async function prepareSchema(
  conn: MysqlConnection,
  client: MysqlTool,
  force: boolean,
  run: RunContext,
): Promise<boolean> {
  const name = quoteString(conn.database);
  const [row] = await mysqlQuery(
    conn,
    client,
    `select
       (select count(*) from information_schema.SCHEMATA where SCHEMA_NAME = ${name}),
       (select count(*) from information_schema.TABLES where TABLE_SCHEMA = ${name})
     + (select count(*) from information_schema.ROUTINES where ROUTINE_SCHEMA = ${name})
     + (select count(*) from information_schema.EVENTS where EVENT_SCHEMA = ${name})`,
    { database: null, signal: run.signal },
  );
  const [exists, objects] = (row ?? []).map(Number);
  if (!exists) {
    await mysqlQuery(conn, client, `create database ${quoteIdentifier(conn.database)}`, { database: null });
    run.logger.info({ database: conn.database }, "created the destination schema");
    return true;
  }
  if ((objects ?? 0) > 0 && !force) {
    throw new HavenError(
      "REFUSED",
      `schema ${conn.database} already holds ${objects} tables, views, routines or events; refusing to restore over them`,
      { hint: "restore into a new schema (--to <new name>), or confirm replacing them (add --force)" },
    );
  }
  return false;
}

/** Removes a schema this restore created and could not fill, so no half restore is left behind. */
async function dropSchema(conn: MysqlConnection, client: MysqlTool, run: RunContext): Promise<void> {
  try {
    await mysqlQuery(conn, client, `drop database if exists ${quoteIdentifier(conn.database)}`, {
      database: null,
    });
  } catch (error) {
    run.logger.warn(
      { database: conn.database, err: String(error) },
      "could not drop the half-restored schema",
    );
  }
}
