/**
 * A SQLite backup: a consistent copy made by `VACUUM INTO` in one read transaction, never a raw copy
 * of a file in use (which can tear across a write, or miss what is still in the WAL).
 *
 * Why a temp file: SQLite writes a copy only to a database file (VACUUM INTO, like the backup API,
 * needs a seekable file it can lock and page through), so the copy goes to a private 0700 directory
 * (`tempDir`, default the OS temp dir), is opened, and unlinked at once: the stream reads it through the
 * open descriptor, and nothing is left behind even if the process dies. Why VACUUM INTO rather than the
 * CLI's `.backup`: the backup API restarts whenever another connection writes, so on a busy database
 * it may never finish; VACUUM INTO reads one snapshot. In WAL mode writers go on meanwhile; in
 * rollback-journal mode they wait for it (up to their busy timeout).
 *
 * Row counts (keys "main.<table>") are taken from the copy, so they are exactly the rows in the backup.
 */
import { createReadStream } from "node:fs";
import { access, open, stat } from "node:fs/promises";
import { finished } from "node:stream/promises";
import { HavenError } from "../../lib/errors";
import { PrivateDir, toolVersion } from "../process";
import type { BackupStats, BackupStream, RunContext } from "../types";
import { sqliteExec, sqliteJson, sqlIdentifier, sqlString } from "./cli";

export interface SqliteSource {
  path: string;
  tempDir?: string;
}

export async function backupSqlite(source: SqliteSource, run: RunContext): Promise<BackupStream> {
  await assertReadable(source.path);
  const version = await toolVersion("sqlite3", run.signal);
  const dir = await PrivateDir.create("haven-sqlite", source.tempDir).catch((error: unknown) => {
    throw new HavenError(
      "PERMANENT",
      `cannot create a private directory in ${source.tempDir ?? "the temp dir"}`,
      {
        hint: "create that directory (writable by Haven's user), or fix tempDir of this target",
        cause: error,
      },
    );
  });
  let copy: Awaited<ReturnType<typeof open>>;
  let tables: Record<string, number>;
  try {
    const copyPath = dir.file("copy.sqlite");
    await sqliteExec(source.path, `VACUUM INTO ${sqlString(copyPath)};`, {
      readonly: true,
      signal: run.signal,
    });
    tables = await countRows(copyPath, run.signal);
    copy = await open(copyPath, "r");
  } finally {
    // The open descriptor keeps the copy readable; its name and directory go now.
    await dir.remove();
  }
  const size = (await copy.stat()).size;
  run.logger.info({ bytes: size, tables: Object.keys(tables).length }, "consistent copy made");

  const body = createReadStream("", { fd: copy, highWaterMark: 1024 * 1024 });
  const read = finished(body);
  read.catch(() => undefined);
  const done = (async (): Promise<BackupStats> => {
    try {
      await read;
    } catch (error) {
      if (run.signal.aborted) throw new HavenError("CANCELLED", "the run was cancelled", { cause: error });
      throw new HavenError("SOURCE_FAILED", `reading the copy of ${source.path} failed: ${String(error)}`, {
        cause: error,
      });
    }
    return { tables, rowCounts: "exact", source: { sqlite3: version, path: source.path } };
  })();
  done.catch(() => undefined);
  const onAbort = () => body.destroy(new HavenError("CANCELLED", "the run was cancelled"));
  run.signal.addEventListener("abort", onAbort, { once: true });
  void read.finally(() => run.signal.removeEventListener("abort", onAbort)).catch(() => undefined);
  return { main: { name: "data", format: "sqlite", body }, done };
}

/** count(*) of every ordinary table (virtual tables need their module and hold no rows of their own). */
async function countRows(database: string, signal: AbortSignal): Promise<Record<string, number>> {
  const names = await sqliteJson<{ name: string }>(
    database,
    "select name from sqlite_schema where type = 'table' and name not like 'sqlite\\_%' escape '\\' and sql not like 'CREATE VIRTUAL%' order by name;",
    { readonly: true, signal },
  );
  const counts: Record<string, number> = {};
  // SQLite allows 500 terms in one compound SELECT (SQLITE_MAX_COMPOUND_SELECT).
  for (let at = 0; at < names.length; at += COUNTS_PER_QUERY) {
    const sql = names
      .slice(at, at + COUNTS_PER_QUERY)
      .map(({ name }) => `select ${sqlString(name)} as name, count(*) as n from ${sqlIdentifier(name)}`)
      .join(" union all ");
    const rows = await sqliteJson<{ name: string; n: number }>(database, `${sql};`, {
      readonly: true,
      signal,
    });
    // "main.<table>", like the "schema.table" keys of the other databases (and valid SQLite SQL).
    for (const row of rows) counts[`main.${row.name}`] = row.n;
  }
  return counts;
}

const COUNTS_PER_QUERY = 400;

async function assertReadable(path: string): Promise<void> {
  try {
    await access(path);
    if (!(await stat(path)).isFile()) throw new Error("not a file");
  } catch (error) {
    throw new HavenError("SOURCE_FAILED", `the SQLite database ${path} is missing or not a file`, {
      hint: "check the target's path, and that Haven's user may read it",
      cause: error,
    });
  }
}
