/** The `pg` client, connected with failures classified (CREDENTIALS, database missing, unreachable). */
import { Client } from "pg";
import { HavenError } from "../../lib/errors";
import { pgClientConfig, type PgConnection } from "./connection";
import { pgClientError } from "./errors";

export interface ServerInfo {
  version: string;
  versionNum: number;
  superuser: boolean;
}

/**
 * Connects the `pg` client, classifying failures (CREDENTIALS, database missing, unreachable).
 * `prefer` (no TLS setting) does what libpq does for pg_dump: TLS without verification when the
 * server offers it and lets the login in over it, else plain TCP. Plain TCP alone made the probe
 * fail against a server that takes only TLS connections (RDS from PostgreSQL 15, most managed
 * services), where pg_dump connects: no backup ran, doctor failed, with nothing wrong. (The pg
 * client has no mode of its own for this.)
 */
export async function connectPg(
  conn: PgConnection,
  database = conn.database,
  signal?: AbortSignal,
): Promise<Client> {
  if (conn.sslMode !== "prefer") return connectOnce(conn, database, signal);
  const server = `${conn.host}:${conn.port}`;
  const first = preferredModes.get(server) ?? "require";
  let client: Client;
  try {
    client = await connectOnce({ ...conn, sslMode: first }, database, signal);
    preferredModes.set(server, first);
    return client;
  } catch (error) {
    if (signal?.aborted || !refusedInThisMode(error)) throw error;
  }
  const second = first === "require" ? "disable" : "require";
  client = await connectOnce({ ...conn, sslMode: second }, database, signal);
  preferredModes.set(server, second);
  return client;
}

/**
 * The mode that last connected to each server under `prefer`, tried first: a refused attempt costs a
 * backend fork on the server (~30 ms here), which a server without TLS would otherwise pay for every
 * connection. A server that changes its mind costs one refused attempt again.
 */
const preferredModes = new Map<string, "require" | "disable">();

/**
 * The server refused this mode, not the login: it has no TLS, or pg_hba.conf has no entry for the
 * login in this mode (`hostssl` only, or `hostnossl` only). Another mode may then get in.
 */
function refusedInThisMode(error: unknown): boolean {
  const cause = error instanceof HavenError ? error.cause : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  return /does not support SSL|no pg_hba\.conf entry|pg_hba\.conf rejects/i.test(message);
}

async function connectOnce(conn: PgConnection, database: string, signal?: AbortSignal): Promise<Client> {
  const client = new Client(pgClientConfig(conn, database));
  // A dropped connection after connect surfaces as a query error; this keeps it from crashing the process.
  client.on("error", () => undefined);
  const onAbort = () => void client.end().catch(() => undefined);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    if (signal?.aborted) throw new HavenError("CANCELLED", "the run was cancelled");
    throw pgClientError(`cannot connect to PostgreSQL at ${conn.host}:${conn.port}/${database}`, error, [
      conn.password,
    ]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

export async function serverInfo(client: Client): Promise<ServerInfo> {
  const { rows } = await client.query<{ version: string; num: string; superuser: boolean }>(
    "select current_setting('server_version') as version, current_setting('server_version_num') as num, " +
      "(select rolsuper from pg_catalog.pg_roles where rolname = current_user) as superuser",
  );
  const row = rows[0];
  if (!row) throw new Error("server_version query returned no row");
  return { version: row.version, versionNum: Number(row.num), superuser: row.superuser };
}
