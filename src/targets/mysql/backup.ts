/**
 * A MySQL/MariaDB backup: one schema dumped as SQL by mariadb-dump (or MySQL's mysqldump) with
 * `--single-transaction` (a consistent snapshot of InnoDB tables without locking them; MyISAM tables
 * and DDL during the dump are not covered, as for any mysqldump), routines, triggers and events, and
 * binary data as hex. No `USE`/`CREATE DATABASE` in the dump, so it restores into any schema.
 * Row counts are taken from the dump itself as it streams (row-counter.ts).
 */
import { pipeline } from "node:stream/promises";
import type { HavenError } from "../../lib/errors";
import { settledOutput, spawnTool, toolError, type ToolExit } from "../process";
import type { BackupStats, BackupStream, RunContext } from "../types";
import { mysqlQuery } from "./client";
import { writeOptionFile, type MysqlConnection } from "./connection";
import { classifyMysqlStderr } from "./errors";
import { DumpRowCounter } from "./row-counter";
import { discoverMysqlTools, flavorOf, pickTool, type MysqlTool } from "./tools";

/** Options that make the dump complete, consistent and portable; see the module comment. */
export function dumpArgs(tool: MysqlTool, optionFile: string, database: string): string[] {
  const args = [
    // Must come first; only this file is read, so no option file on the machine can change the format.
    `--defaults-file=${optionFile}`,
    "--single-transaction",
    "--routines",
    "--triggers",
    "--events",
    "--hex-blob",
    "--no-tablespaces",
    "--default-character-set=utf8mb4",
    "--comments",
  ];
  // MySQL with GTIDs would otherwise add SET @@GLOBAL.GTID_PURGED, which fails on most restore targets.
  if (tool.flavor === "mysql") args.push("--set-gtid-purged=OFF");
  args.push(database);
  return args;
}

export async function backupMysql(conn: MysqlConnection, run: RunContext): Promise<BackupStream> {
  const secrets = [conn.password];
  const toolset = await discoverMysqlTools(run.signal);
  const client = pickTool(toolset, "client");
  const version = (await mysqlQuery(conn, client, "select version()", { signal: run.signal }))[0]?.[0] ?? "";
  const dumpTool = pickTool(toolset, "dump", flavorOf(version));

  const optionFile = await writeOptionFile(conn, dumpTool.flavor);
  const dump = spawnTool({
    command: dumpTool.command,
    args: dumpArgs(dumpTool, optionFile.path, conn.database),
    signal: run.signal,
    secrets,
    logger: run.logger,
    largeOutput: true,
  });
  run.logger.info({ pid: dump.pid, tool: dumpTool.command }, "dump started");
  // One error object for the body and for done, so the engine reports one cause.
  let dumpError: HavenError | undefined;
  const failure = (exit: ToolExit) => (dumpError ??= toolError(dumpTool.command, exit, classifyMysqlStderr));

  const counter = new DumpRowCounter(conn.database);
  const counted = pipeline(settledOutput(dump, failure), counter);
  counted.catch(() => undefined);

  const done = (async (): Promise<BackupStats> => {
    try {
      const exit = await dump.exit;
      if (!exit.ok) throw failure(exit);
      await counted;
      return {
        tables: counter.counts,
        rowCounts: "exact",
        database: conn.database,
        source: { server: version, [dumpTool.command]: dumpTool.version, database: conn.database },
      };
    } finally {
      await optionFile.remove();
    }
  })();
  done.catch(() => undefined);
  return { main: { name: "data", format: "sql", body: counter }, done };
}
