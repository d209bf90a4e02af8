/**
 * PostgreSQL scratch place: a temporary database `haven_verify_<target>_<time>_<random>` (names.ts) on
 * the target's own server, or on the server of `verify.into` (a postgres:// URL) when set. The
 * adapter's restore creates it from template0 and fills it with pg_restore; cleanup drops it with every
 * session in it ended first (`DROP DATABASE ... WITH (FORCE)`, or terminate-then-drop before
 * PostgreSQL 13). The same drop removes what crashed tests left on that server (sweep.ts).
 */
import type { Client } from "pg";
import type { Logger } from "pino";
import type { TargetConfigOf } from "../../config/types";
import { HavenError } from "../../lib/errors";
import { createAdapter } from "../../targets";
import { connectPg } from "../../targets/postgres/client";
import { describePg, resolvePgConnection, type PgConnection } from "../../targets/postgres/connection";
import { pgClientError } from "../../targets/postgres/errors";
import { recordedTables, rowCountChecks, rowCountsEstimated } from "../checks";
import { DATABASE_FORMAT, scratchDatabaseName, scratchDatabasePrefix } from "./names";
import { sweepLeftovers } from "./sweep";
import { CLEANUP_TIMEOUT_MS, scratchServer, type QueryValue, type ScratchPlace } from "./types";

/** Databases every cluster has; cleanup connects to one of them to drop the scratch database. */
const MAINTENANCE_DATABASES = ["postgres", "template1"];

function scratchConnection(target: TargetConfigOf<"postgres">, name: string): PgConnection {
  return scratchServer(target, name, resolvePgConnection, () => resolvePgConnection(target));
}

export function postgresScratch(
  target: TargetConfigOf<"postgres">,
  suffix: string,
  logger: Logger,
): ScratchPlace {
  const name = scratchDatabaseName(target.name, new Date(), suffix);
  const into = target.verify.into;
  const conn = scratchConnection(target, name);
  const adapter = createAdapter(target, logger);

  return {
    description: `postgres database ${describePg(conn)}`,
    restore: (body, run, options) =>
      adapter.restore(body, { kind: "database", name, url: into }, run, options),

    async builtInChecks({ manifest, signal }) {
      const expected = recordedTables(manifest.stats);
      if (!expected) return [];
      const actual = await withClient(conn, signal, (client) =>
        countRestoredRows(client, Object.keys(expected)),
      );
      return rowCountChecks(expected, actual, { estimated: rowCountsEstimated(manifest.stats) });
    },

    query: (sql, signal) => withClient(conn, signal, (client) => firstValue(client, sql)),

    cleanup: () => dropDatabase(conn),
  };
}

/**
 * Row counts of the tables named "schema.table" (null for a missing table), as pg_dump's scope saw
 * them. A statement_timeout set on the role (common for application roles) would cut count(*) on a
 * large table and fail the restore test for nothing, so it is lifted for this session, as pg_dump
 * and pg_restore lift it for theirs.
 */
export async function countRestoredRows(
  client: Client,
  keys: string[],
): Promise<Record<string, number | null>> {
  await client.query("set statement_timeout = 0");
  const { rows } = await client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name
     from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')`,
  );
  const byKey = new Map(rows.map((r) => [`${r.schema}.${r.name}`, r]));
  const counts: Record<string, number | null> = {};
  for (const key of keys) {
    const table = byKey.get(key);
    if (!table) {
      counts[key] = null;
      continue;
    }
    // `only`, as at backup time: a parent's count must not include its children's rows.
    const sql = `select count(*)::int8 as n from only ${client.escapeIdentifier(table.schema)}.${client.escapeIdentifier(table.name)}`;
    counts[key] = Number((await client.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
  }
  return counts;
}

async function firstValue(client: Client, sql: string): Promise<QueryValue> {
  const result = await client.query({ text: sql, rowMode: "array" });
  const row = (result.rows as unknown[][])[0];
  return { value: row?.[0], hasRow: row !== undefined };
}

/** Connects to the scratch database; an abort of `signal` ends the connection (and a running query). */
async function withClient<T>(
  conn: PgConnection,
  signal: AbortSignal,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await connectPg(conn, conn.database, signal);
  const onAbort = () => void client.end().catch(() => undefined);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await fn(client);
  } catch (error) {
    if (signal.aborted) throw new HavenError("CANCELLED", "the run was cancelled", { cause: error });
    if (error instanceof HavenError) throw error;
    throw pgClientError(`query in the scratch database ${conn.database} failed`, error, [conn.password]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    await client.end().catch(() => undefined);
  }
}

/**
 * Drops the target's scratch databases on the scratch server that crashed tests left behind
 * (sweep.ts decides which). Never rejects; returns the names dropped.
 */
export async function sweepPostgresScratch(
  target: TargetConfigOf<"postgres">,
  logger: Logger,
  now: Date = new Date(),
): Promise<string[]> {
  const server = scratchConnection(target, "postgres");
  const prefix = scratchDatabasePrefix(target.name);
  return sweepLeftovers(
    {
      where: `postgres databases on ${describePg(server, "")}`,
      format: DATABASE_FORMAT(target.name),
      async list() {
        const admin = await connectAdmin(server, AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
        try {
          const { rows } = await admin.query<{ datname: string }>(
            "select datname from pg_catalog.pg_database where left(datname, $1) = $2",
            [prefix.length, prefix],
          );
          return rows.map((r) => r.datname);
        } finally {
          await admin.end().catch(() => undefined);
        }
      },
      remove: (name) => dropDatabase({ ...server, database: name }),
      byHand: (name) => dropByHand(name),
    },
    logger,
    now,
  );
}

/** A connection to one of the maintenance databases of the server of `conn`. */
async function connectAdmin(conn: PgConnection, signal: AbortSignal): Promise<Client> {
  let lastError: unknown;
  for (const database of MAINTENANCE_DATABASES) {
    try {
      return await connectPg(conn, database, signal);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Drops the scratch database if it exists, ending every session in it first. Idempotent. */
async function dropDatabase(conn: PgConnection): Promise<void> {
  const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
  let admin: Client;
  try {
    admin = await connectAdmin(conn, signal);
  } catch (error) {
    throw leftBehind(conn, error);
  }
  try {
    const name = admin.escapeIdentifier(conn.database);
    try {
      await admin.query(`drop database if exists ${name} with (force)`);
    } catch (error) {
      // Before PostgreSQL 13 there is no WITH (FORCE): end the sessions, then drop.
      if ((error as { code?: string }).code !== "42601") throw error;
      await admin.query(
        "select pg_catalog.pg_terminate_backend(pid) from pg_catalog.pg_stat_activity where datname = $1 and pid <> pg_catalog.pg_backend_pid()",
        [conn.database],
      );
      await admin.query(`drop database if exists ${name}`);
    }
  } catch (error) {
    throw leftBehind(conn, error);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

function leftBehind(conn: PgConnection, cause: unknown): HavenError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new HavenError("PERMANENT", `could not drop the scratch database ${describePg(conn)}: ${reason}`, {
    hint: dropByHand(conn.database),
    cause,
  });
}

function dropByHand(name: string): string {
  return `drop it by hand: psql -c 'DROP DATABASE IF EXISTS "${name}" WITH (FORCE)'`;
}
