/**
 * Says who keeps a restore waiting. pg_restore over an existing database drops each table of the
 * dump, and DROP waits for every lock on it: an application's session left idle in a transaction
 * holds one for as long as it likes, and the restore then waits without a word (found here: over
 * 30 s of silence, then an operator's Ctrl-C). The dump's own preamble sets lock_timeout to 0, so
 * the wait cannot be bounded from outside; it can be explained. While pg_restore runs, its session
 * (known by its application_name) is looked up every LOCK_WATCH.intervalMs; each time it waits on a
 * lock, a warning names the sessions that hold it and how to end them. The restore itself is left
 * alone: it goes on when the lock is released.
 */
import type { Client } from "pg";
import { periodicLockWatch, type LockWatch } from "../lock-watch";
import type { RunContext } from "../types";
import { connectPg } from "./client";
import type { PgConnection } from "./connection";

const BLOCKERS_QUERY = `
  select b.pid, b.usename, b.application_name, host(b.client_addr) as client_addr, b.state,
         extract(epoch from now() - w.query_start)::int as waited_seconds,
         extract(epoch from now() - b.xact_start)::int as transaction_seconds
  from pg_stat_activity w
  cross join lateral unnest(pg_blocking_pids(w.pid)) as blocking(pid)
  join pg_stat_activity b on b.pid = blocking.pid
  where w.application_name = $1 and w.wait_event_type = 'Lock'`;

interface Blocker {
  pid: number;
  usename: string | null;
  application_name: string | null;
  client_addr: string | null;
  state: string | null;
  waited_seconds: number | null;
  transaction_seconds: number | null;
}

function describeBlocker(b: Blocker): string {
  const who = [
    `user ${b.usename ?? "?"}`,
    b.application_name ? `application "${b.application_name}"` : "no application name",
    b.client_addr ? `from ${b.client_addr}` : "local",
    `${b.state ?? "unknown state"}${b.transaction_seconds === null ? "" : `, in a transaction for ${b.transaction_seconds} s`}`,
  ];
  return `pid ${b.pid} (${who.join(", ")})`;
}

/** Watches the session of `applicationName` on `conn`'s database until `stop` (see periodicLockWatch). */
export function watchLockWaits(conn: PgConnection, applicationName: string, run: RunContext): LockWatch {
  let client: Client | undefined;
  const look = async (isStopped: () => boolean) => {
    client ??= await connectPg(conn, conn.database, run.signal);
    const { rows } = await client.query<Blocker>(BLOCKERS_QUERY, [applicationName]);
    if (rows.length === 0 || isStopped()) return;
    const waited = Math.max(...rows.map((row) => row.waited_seconds ?? 0));
    const pids = rows.map((row) => row.pid);
    run.logger.warn(
      { database: conn.database, waitedSeconds: waited, blockingPids: pids },
      `pg_restore has waited ${waited} s for a lock held by ${rows.map(describeBlocker).join("; ")}: ` +
        `it goes on once that session ends its transaction. To go on now, stop the application's ` +
        `connections or end the session (SELECT pg_terminate_backend(${pids.join("), pg_terminate_backend(")}))`,
    );
  };
  return periodicLockWatch(look, run, async () => client?.end());
}
