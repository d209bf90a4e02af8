/**
 * A PostgreSQL backup: `pg_dump -Fc -Z0` (the engine compresses; zstd is ~3x faster than pg_dump's
 * own gzip) of one database, plus, with `globals: true`, `pg_dumpall --globals-only` as a second stream.
 *
 * Consistency: a REPEATABLE READ transaction is opened first and its snapshot exported
 * (`pg_export_snapshot()`); pg_dump imports it (`--snapshot`). Exact row counts are read from the
 * archive's own COPY data as it streams (archive-rows.ts), so they are the rows in the dump and the
 * server reads no table twice; a table the archive cannot tell about is counted with `count(*)` in the
 * exported snapshot, whose transaction stays open until pg_dump exits.
 */
import { finished } from "node:stream";
import type { Client } from "pg";
import type { TargetConfigOf } from "../../config/types";
import { HavenError } from "../../lib/errors";
import type { BackupStats, BackupStream, PayloadStream, RunContext } from "../types";
import { settledOutput, spawnTool, toolError, type ToolExit, type ToolProcess } from "../process";
import { connectPg, serverInfo, type ServerInfo } from "./client";
import { libpqSession, type PgConnection } from "./connection";
import { ArchiveRowCounter } from "./archive-rows";
import { classifyPgStderr, pgClientError } from "./errors";
import { scopeArgs, tablesInScopeQuery } from "./scope";
import { checkedToolVersion } from "./versions";
import { readerClosedError } from "../reader-closed";

type PgTarget = TargetConfigOf<"postgres">;

/** A row of `tablesInScopeQuery`. */
interface TableInScope {
  oid: string;
  schema: string;
  name: string;
  estimate: number;
}

/** The manifest's key for a table's row count. */
const tableKey = (table: TableInScope) => `${table.schema}.${table.name}`;

export async function backupPostgres(
  target: PgTarget,
  conn: PgConnection,
  run: RunContext,
): Promise<BackupStream> {
  const secrets = [conn.password];
  const client = await connectPg(conn, conn.database, run.signal);
  let session: Awaited<ReturnType<typeof libpqSession>> | undefined;
  try {
    const server = await serverInfo(client);
    const pgDumpVersion = await checkedToolVersion("pg_dump", server, run.signal);
    const snapshot = await exportSnapshot(client, server);
    const query = tablesInScopeQuery(target);
    const tables = (await client.query<TableInScope>(query)).rows;

    session = await libpqSession(conn);
    const dump = spawnTool({
      command: "pg_dump",
      args: [
        "--format=custom",
        "--compress=0",
        `--snapshot=${snapshot}`,
        "--no-password",
        ...scopeArgs(target),
      ],
      env: session.env,
      signal: run.signal,
      secrets,
      logger: run.logger,
      largeOutput: true,
    });
    // One error object for the body and for done, so the engine reports one cause.
    let dumpError: HavenError | undefined;
    const failure = (exit: ToolExit) => (dumpError ??= toolError("pg_dump", exit, classifyPgStderr));
    const body = settledOutput(dump, failure);
    run.logger.info({ pid: dump.pid, snapshot, tables: tables.length }, "pg_dump started");

    const archiveRows = target.rowCounts === "exact" ? readArchiveRows(dump) : undefined;
    archiveRows?.catch(() => undefined);
    const sessionToRemove = session;
    const done = (async (): Promise<BackupStats> => {
      try {
        const exit = await dump.exit;
        if (!exit.ok) throw failure(exit);
        const archive = await archiveRows;
        const counts = await countRows(client, tables, target.rowCounts, archive, run).catch(
          (error: unknown) => {
            throw pgClientError("counting rows in the dump's snapshot failed", error, secrets);
          },
        );
        return {
          tables: counts,
          rowCounts: target.rowCounts,
          database: conn.database,
          source: {
            server: `PostgreSQL ${server.version}`,
            serverVersionNum: String(server.versionNum),
            pg_dump: pgDumpVersion,
            database: conn.database,
          },
        };
      } finally {
        await client.end().catch(() => undefined);
        await sessionToRemove.remove();
      }
    })();
    done.catch(() => undefined);

    return {
      main: { name: "data", format: "pgdump", body },
      after: target.globals ? () => dumpGlobals(conn, server, run) : undefined,
      done,
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    await session?.remove();
    if (error instanceof HavenError) throw error;
    if (run.signal.aborted) throw new HavenError("CANCELLED", "the run was cancelled", { cause: error });
    throw pgClientError("preparing the dump failed", error, secrets);
  }
}

/**
 * Opens the read-only REPEATABLE READ transaction whose snapshot pg_dump imports, and returns the
 * snapshot's id. The session is set up as pg_dump sets up its own: a role's or database's timeouts
 * must not end the transaction that holds the snapshot while pg_dump runs, nor cut a count(*) in it.
 */
export async function exportSnapshot(client: Client, server: ServerInfo): Promise<string> {
  await client.query("set statement_timeout = 0");
  if (server.versionNum >= 90600) await client.query("set idle_in_transaction_session_timeout = 0");
  await client.query("begin transaction isolation level repeatable read, read only");
  const id = (await client.query<{ id: string }>("select pg_catalog.pg_export_snapshot() as id")).rows[0]?.id;
  if (!id) throw new Error("pg_export_snapshot() returned nothing");
  return id;
}

/**
 * Counts the rows of the archive pg_dump writes, chunk by chunk, as the backup reads them. Rejects
 * when the output was not read to its end: the backup's reader failed, and its error is the cause.
 */
export function readArchiveRows(dump: ToolProcess): Promise<ArchiveRowCounter> {
  const counter = new ArchiveRowCounter();
  const stdout = dump.stdout;
  if (!stdout) return Promise.resolve(counter);
  // A second 'data' listener beside the body's pipe sees the same chunks in the same order.
  stdout.on("data", (chunk: Buffer) => counter.push(chunk));
  return new Promise((resolve, reject) =>
    finished(stdout, (error) => {
      if (!error) resolve(counter);
      // Not counted in SQL instead: on a large database that would hold the failed run for minutes.
      else
        reject(
          readerClosedError(
            new HavenError("SOURCE_FAILED", "pg_dump's output was closed before its end", {
              hint: "see the error of the upload or pipeline that read the stream",
            }),
          ),
        );
    }),
  );
}

/**
 * Per-table row counts for the manifest: exact ones from the archive (with `count(*)` in the exported
 * snapshot for any table it could not tell about), planner estimates, or nothing, as configured.
 */
export async function countRows(
  client: Client,
  tables: TableInScope[],
  mode: PgTarget["rowCounts"],
  archive: ArchiveRowCounter | undefined,
  run: RunContext,
): Promise<Record<string, number> | undefined> {
  if (mode === "off") return undefined;
  const counts: Record<string, number> = {};
  if (mode === "estimate") {
    for (const table of tables) counts[tableKey(table)] = Math.max(0, Math.round(table.estimate));
    return counts;
  }
  const fromArchive = archive?.result() ?? { rows: new Map<string, number>() };
  const unread: typeof tables = [];
  for (const table of tables) {
    const rows = fromArchive.rows.get(table.oid);
    if (rows === undefined) unread.push(table);
    else counts[tableKey(table)] = rows;
  }
  if (unread.length > 0) {
    run.logger.info(
      { tables: unread.length, reason: fromArchive.problem ?? "not in the archive's table data" },
      "counting rows with count(*) in the dump's snapshot",
    );
  }
  // One table at a time, to leave the server's other cores to whatever else it serves.
  for (const table of unread) {
    const sql = `select count(*)::int8 as n from only ${client.escapeIdentifier(table.schema)}.${client.escapeIdentifier(table.name)}`;
    const { rows } = await client.query<{ n: string }>(sql);
    counts[tableKey(table)] = Number(rows[0]?.n ?? 0);
  }
  return counts;
}

/**
 * `pg_dumpall --globals-only`: roles and tablespaces, needed to restore ownership and grants on a new
 * server. Without superuser rights pg_authid is unreadable, so role passwords are left out (a warning).
 * The stream errors if pg_dumpall fails, so the run cannot commit a truncated globals file.
 */
async function dumpGlobals(
  conn: PgConnection,
  server: ServerInfo,
  run: RunContext,
): Promise<PayloadStream[]> {
  await checkedToolVersion("pg_dumpall", server, run.signal);
  const args = ["--globals-only", "--no-password", `--database=${conn.database}`];
  if (!server.superuser) {
    args.push("--no-role-passwords");
    run.warn("globals: the backup role is not a superuser, so role passwords are not in the backup");
  }
  const session = await libpqSession(conn);
  const tool = spawnTool({
    command: "pg_dumpall",
    args,
    env: session.env,
    signal: run.signal,
    secrets: [conn.password],
    logger: run.logger,
  });
  void tool.exit.then(() => session.remove()).catch(() => undefined);
  const body = settledOutput(tool, (exit) => toolError("pg_dumpall", exit, classifyPgStderr));
  return [{ name: "globals", format: "sql", body }];
}
