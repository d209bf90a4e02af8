/**
 * Says who keeps a MySQL or MariaDB restore waiting. The dump drops and recreates each table, and
 * DROP TABLE waits for the table's metadata lock, which any session holds from the moment its
 * transaction read the table until it ends: an application's connection idle in a transaction
 * holds the restore for lock_wait_timeout, a year by default, without a word. Bounding the wait
 * would be worse: MySQL cannot roll the restore back, so a restore stopped half way leaves the
 * schema half replaced. While the restore runs, the server's process list is looked at every
 * LOCK_WATCH.intervalMs; when a session of the schema waits for a metadata lock, a warning names the
 * sessions with an open transaction, those whose database is the schema if there are any (the usual
 * holders: which one holds the lock is not shown without the metadata-lock plugin), and how to end them.
 */
import { periodicLockWatch, type LockWatch } from "../lock-watch";
import type { RunContext } from "../types";
import { mysqlQuery } from "./client";
import { quoteString, type MysqlConnection } from "./connection";
import type { MysqlTool } from "./tools";

/** Sessions waiting for a metadata lock in `schema`, each with every other open transaction. */
function waitsQuery(schema: string): string {
  return `
    select w.ID, w.TIME, coalesce(p.ID, ''), coalesce(p.USER, ''), coalesce(p.HOST, ''),
           coalesce(p.COMMAND, ''), coalesce(timestampdiff(second, t.trx_started, now()), ''),
           coalesce(p.DB, '')
    from information_schema.PROCESSLIST w
    left join information_schema.INNODB_TRX t on t.trx_mysql_thread_id <> w.ID
    left join information_schema.PROCESSLIST p on p.ID = t.trx_mysql_thread_id
    where w.DB = ${quoteString(schema)} and w.STATE like 'Waiting for table metadata lock%'
    order by w.TIME desc, t.trx_started`;
}

export function watchMetadataLockWaits(conn: MysqlConnection, client: MysqlTool, run: RunContext): LockWatch {
  const look = async (isStopped: () => boolean) => {
    const rows = await mysqlQuery(conn, client, waitsQuery(conn.database), {
      database: null,
      signal: run.signal,
    });
    if (rows.length === 0 || isStopped()) return;
    const waited = Number(rows[0]?.[1] ?? 0);
    const open = rows.filter((row) => row[2] !== "");
    // The schema's own sessions first: an application's connection names it as its database.
    const own = open.filter((row) => row[7] === conn.database);
    const holders = own.length > 0 ? own : open;
    const ids = holders.map((row) => row[2]);
    const named = holders.map(
      ([, , id, user, host, command, seconds]) =>
        `id ${id} (user ${user}, from ${host}, ${command === "Sleep" ? "idle" : command}, in a transaction for ${seconds} s)`,
    );
    run.logger.warn(
      { database: conn.database, waitedSeconds: waited, openTransactions: ids.map(Number) },
      `the restore has waited ${waited} s for a table's metadata lock; it goes on once the session holding it ends its transaction. ` +
        (named.length > 0
          ? `Sessions with an open transaction: ${named.join("; ")}. To go on now, stop the application's connections or end them (KILL ${ids.join("; KILL ")})`
          : "No session has an open InnoDB transaction: look for LOCK TABLES or a long statement (SHOW FULL PROCESSLIST)"),
    );
  };
  return periodicLockWatch(look, run);
}
