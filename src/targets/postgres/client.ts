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

/** Connects the `pg` client, classifying failures (CREDENTIALS, database missing, unreachable). */
export async function connectPg(
  conn: PgConnection,
  database = conn.database,
  signal?: AbortSignal,
): Promise<Client> {
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
