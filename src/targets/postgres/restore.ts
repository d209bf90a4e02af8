/**
 * Restores a custom-format dump with `pg_restore`, reading it from stdin, into the original database or
 * another one (created from template0 when missing). An existing database with objects in it is only
 * overwritten with consent (`force`). pg_restore always runs with `--clean --if-exists`: objects of the
 * dump are dropped and recreated, other objects stay; into an empty database that only matters for a
 * dump that recreates the `public` schema (which a new database already has).
 *
 * A failed restore drops a database it created; one into an existing database (with consent) can leave
 * it half replaced: for an atomic switch, restore into a new database and rename the two.
 *
 * `pg_restore --jobs` needs a seekable file, so a streamed restore is single-threaded. For a faster
 * restore of a big database, decode the payload to a file first and run `pg_restore --jobs N` on it
 * (the manifest's recipe shows how).
 *
 * Roles (the `globals` stream) are not applied: ownership and grants refer to roles that must exist on
 * the destination server; restore them first with `psql -f globals.sql` when they do not.
 */
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { Client } from "pg";
import { HavenError } from "../../lib/errors";
import { Secret } from "../../lib/secret";
import { ByteCounter, feedTool, spawnTool, toolError } from "../process";
import type { RestoreDestination, RestoreOptions, RestoreStats, RunContext } from "../types";
import {
  conninfoValue,
  describePg,
  libpqSession,
  resolvePgConnection,
  type PgConnection,
} from "./connection";
import { connectPg } from "./client";
import { classifyPgRestoreStderr, pgClientError } from "./errors";
import { watchLockWaits } from "./lock-watch";

/** Databases a cluster always has; a restore connects to one of them to create the destination. */
const MAINTENANCE_DATABASES = ["postgres", "template1"];

export async function restorePostgres(
  targetName: string,
  source: PgConnection,
  body: Readable,
  to: RestoreDestination,
  run: RunContext,
  opts: RestoreOptions = {},
): Promise<RestoreStats> {
  let conn: PgConnection;
  try {
    conn = destinationConnection(targetName, source, to);
  } catch (error) {
    body.destroy();
    throw error;
  }
  const secrets = [conn.password];
  let created: boolean;
  try {
    created = await prepareDatabase(conn, opts.force === true, run);
  } catch (error) {
    body.destroy();
    throw error;
  }
  if (opts.extra?.globals) {
    run.logger.info(
      "the snapshot holds globals (roles); they are not applied: see the manifest's restore recipe",
    );
  }

  let session: Awaited<ReturnType<typeof libpqSession>>;
  // Its own name, so that the lock watch finds pg_restore's session among the application's.
  const applicationName = `haven-restore-${randomBytes(4).toString("hex")}`;
  try {
    await opts.beforeWrite?.();
    session = await libpqSession(conn, conn.database, applicationName);
  } catch (error) {
    body.destroy();
    if (created) await dropDatabase(conn, run);
    throw error;
  }
  // --clean --if-exists even into an empty database: a dump that names the public schema (schemas: [public])
  // recreates it, which fails where it already exists. Over objects, this is the consented replacement,
  // in one transaction: pg_restore drops everything first, so an input that fails half way (network,
  // decryption, Ctrl-C) would otherwise leave the database emptied. A database created here is dropped
  // on failure instead, and is spared the single transaction's lock count (one per table).
  const args = [
    "--no-password",
    "--exit-on-error",
    ...(created ? [] : ["--single-transaction"]),
    "--clean",
    "--if-exists",
    `--dbname=dbname=${conninfoValue(conn.database)}`,
  ];
  const restore = spawnTool({
    command: "pg_restore",
    args,
    env: session.env,
    stdin: "pipe",
    stdout: "ignore",
    signal: run.signal,
    secrets,
    logger: run.logger,
  });
  const counter = new ByteCounter();
  run.logger.info({ database: describePg(conn), created }, "pg_restore started");
  // Only an existing database has sessions that can hold its tables' locks.
  const lockWatch = created ? undefined : watchLockWaits(conn, applicationName, run);
  try {
    const exit = await feedTool(restore, body, counter);
    if (!exit.ok) {
      const classify = classifyPgRestoreStderr(opts.extra?.globals !== undefined);
      throw toolError("pg_restore", exit, classify, "read pg_restore's error above");
    }
    return { bytes: counter.bytes, database: conn.database, created };
  } catch (error) {
    if (created) await dropDatabase(conn, run);
    throw error;
  } finally {
    await lockWatch?.stop();
    await session.remove();
  }
}

function destinationConnection(
  targetName: string,
  source: PgConnection,
  to: RestoreDestination,
): PgConnection {
  if (to.kind === "original") return source;
  if (to.kind === "database") {
    if (!to.url) return { ...source, database: to.name };
    return { ...resolvePgConnection({ name: targetName, url: new Secret(to.url), database: to.name }) };
  }
  throw new HavenError("USAGE", "a PostgreSQL snapshot restores into a database, not a path", {
    hint: "use --to <database name>; to get the dump file itself, follow the recipe in the manifest",
  });
}

/**
 * Makes sure the destination database exists and may be written: creates it when missing (returns
 * true), refuses a non-empty one unless `force`.
 */
async function prepareDatabase(conn: PgConnection, force: boolean, run: RunContext): Promise<boolean> {
  const admin = await connectMaintenance(conn, run.signal);
  try {
    const exists = await admin.query("select 1 from pg_catalog.pg_database where datname = $1", [
      conn.database,
    ]);
    if (exists.rowCount === 0) {
      await admin.query(`create database ${admin.escapeIdentifier(conn.database)} template template0`);
      run.logger.info({ database: conn.database }, "created the destination database");
      return true;
    }
  } catch (error) {
    if (error instanceof HavenError) throw error;
    throw pgClientError(`cannot prepare database ${conn.database}`, error, [conn.password]);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const objects = await countUserObjects(conn, run.signal);
  if (objects > 0 && !force) {
    throw new HavenError(
      "REFUSED",
      `database ${conn.database} already holds ${objects} objects; refusing to restore over them`,
      {
        hint: "restore into a new database (--to <new name>), or confirm replacing the objects of the dump (add --force: pg_restore --clean --if-exists)",
      },
    );
  }
  return false;
}

async function connectMaintenance(conn: PgConnection, signal: AbortSignal): Promise<Client> {
  let lastError: unknown;
  for (const database of MAINTENANCE_DATABASES) {
    try {
      return await connectPg(conn, database, signal);
    } catch (error) {
      // Only a missing maintenance database is worth trying the next one for.
      if (!(error instanceof HavenError) || !/does not exist/.test(error.message)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}

/** Relations, functions and non-default schemas in the database: what a restore could collide with. */
async function countUserObjects(conn: PgConnection, signal: AbortSignal): Promise<number> {
  const client = await connectPg(conn, conn.database, signal);
  try {
    const { rows } = await client.query<{ n: string }>(`
      with user_ns as (
        select oid, nspname from pg_catalog.pg_namespace
        where nspname not in ('pg_catalog', 'information_schema') and nspname !~ '^pg_(toast|temp_|toast_temp_)'
      )
      select (select count(*) from pg_catalog.pg_class c join user_ns n on n.oid = c.relnamespace)
           + (select count(*) from pg_catalog.pg_proc p join user_ns n on n.oid = p.pronamespace)
           + (select count(*) from user_ns where nspname <> 'public') as n`);
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Removes a database this restore created and could not fill, so no half restore is left behind. */
async function dropDatabase(conn: PgConnection, run: RunContext): Promise<void> {
  try {
    const admin = await connectMaintenance(conn, AbortSignal.timeout(30_000));
    try {
      const name = admin.escapeIdentifier(conn.database);
      // WITH (FORCE) (PostgreSQL 13+) ends sessions a failed pg_restore may have left behind.
      await admin
        .query(`drop database if exists ${name} with (force)`)
        .catch(() => admin.query(`drop database if exists ${name}`));
    } finally {
      await admin.end().catch(() => undefined);
    }
  } catch (error) {
    run.logger.warn(
      { database: conn.database, err: String(error) },
      "could not drop the half-restored database",
    );
  }
}
