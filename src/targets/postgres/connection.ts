/**
 * One PostgreSQL connection description, from a target's `url` and fields (fields win), given to the
 * `pg` client in-process and to the libpq tools (pg_dump, pg_restore, pg_dumpall) through environment
 * variables and a password file, never through arguments: `ps` shows every process's arguments.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ClientConfig } from "pg";
import type { TargetConfigOf } from "../../config/types";
import { hasScheme, schemesText, refuseUnsupportedUrlParameters } from "../../config/url-schemes";
import { HavenError } from "../../lib/errors";
import { Secret, decodeUrlPart } from "../../lib/secret";
import { PrivateDir, toolEnv } from "../process";

export type SslMode = "disable" | "prefer" | "require" | "verify-ca" | "verify-full";

export interface PgConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: Secret;
  sslMode: SslMode;
  /** CA bundle path (libpq sslrootcert). */
  sslRootCert?: string;
  /** Client certificate and its key, for `cert` authentication (libpq sslcert, sslkey; url only). */
  sslCert?: string;
  sslKey?: string;
}

const SSL_MODES: readonly string[] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

type PgTargetConnection = Pick<
  TargetConfigOf<"postgres">,
  "url" | "host" | "port" | "user" | "password" | "database" | "tls" | "name"
>;

/**
 * Resolves the target's connection. Defaults: host localhost, port 5432, user postgres. TLS: `tls`
 * wins over the URL's `sslmode`; `tls.rejectUnauthorized: true` means verify-full (with `tls.ca`, or
 * libpq's ~/.postgresql/root.crt), false means require; no setting means libpq's `prefer`.
 */
export function resolvePgConnection(target: PgTargetConnection): PgConnection {
  const fromUrl = target.url ? parsePgUrl(target.url, target.name) : {};
  const database = target.database ?? fromUrl.database;
  if (!database) {
    throw new HavenError("CONFIG", `target ${target.name}: no database to back up`, {
      hint: `set targets.${target.name}.database, or name it in the url (postgres://host/dbname)`,
    });
  }
  let sslMode: SslMode = fromUrl.sslMode ?? "prefer";
  let sslRootCert = fromUrl.sslRootCert;
  if (target.tls) {
    sslMode = !target.tls.enabled ? "disable" : target.tls.rejectUnauthorized ? "verify-full" : "require";
    sslRootCert = target.tls.ca ?? sslRootCert;
  }
  return {
    host: target.host ?? fromUrl.host ?? "localhost",
    port: target.port ?? fromUrl.port ?? 5432,
    user: target.user ?? fromUrl.user ?? "postgres",
    database,
    password: target.password ?? fromUrl.password,
    sslMode,
    sslRootCert,
    sslCert: fromUrl.sslCert,
    sslKey: fromUrl.sslKey,
  };
}

function parsePgUrl(url: Secret, target: string): Partial<PgConnection> {
  let parsed: URL;
  try {
    parsed = new URL(url.reveal());
  } catch {
    // The URL may hold a password: never echo it.
    throw new HavenError("CONFIG", `target ${target}: url is not a valid URL`, {
      hint: "use postgres://user@host:5432/dbname (the password in passwordFile)",
    });
  }
  if (!hasScheme("postgres", parsed.protocol)) {
    throw new HavenError("CONFIG", `target ${target}: url must start with ${schemesText("postgres")}`);
  }
  refuseUnsupportedUrlParameters("postgres", parsed, target);
  const query = parsed.searchParams;
  const sslMode = query.get("sslmode") ?? undefined;
  if (sslMode !== undefined && !SSL_MODES.includes(sslMode)) {
    throw new HavenError("CONFIG", `target ${target}: unknown sslmode "${sslMode}" in url`, {
      hint: `use one of ${SSL_MODES.join(", ")}`,
    });
  }
  const decode = (text: string) => (text ? decodeUrlPart(text) : undefined);
  return {
    host: decode(parsed.hostname) ?? query.get("host") ?? undefined,
    port: parsed.port ? Number(parsed.port) : queryPort(query.get("port"), target),
    user: decode(parsed.username) ?? query.get("user") ?? undefined,
    password: parsed.password ? new Secret(decodeUrlPart(parsed.password)) : undefined,
    database: decode(parsed.pathname.replace(/^\//, "")) ?? query.get("dbname") ?? undefined,
    // libpq's "allow" has no client-side equivalent worth keeping apart from "prefer".
    sslMode: sslMode === undefined ? undefined : sslMode === "allow" ? "prefer" : (sslMode as SslMode),
    sslRootCert: query.get("sslrootcert") ?? undefined,
    sslCert: query.get("sslcert") ?? undefined,
    sslKey: query.get("sslkey") ?? undefined,
  };
}

/** libpq's `?port=`, used with `?host=` for a socket folder (`postgres:///db?host=/run/postgresql&port=5433`). */
function queryPort(value: string | null, target: string): number | undefined {
  if (value === null) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new HavenError("CONFIG", `target ${target}: url parameter port is not a port number: ${value}`, {
      hint: "give a whole number from 1 to 65535",
    });
  }
  return port;
}

/**
 * Config for the `pg` client. `prefer` becomes no TLS: the client has no opportunistic mode. The
 * verifying modes trust the CA libpq trusts (`verifiedCa`), so the probe and the row counts accept
 * exactly the servers pg_dump accepts.
 */
export function pgClientConfig(conn: PgConnection, database = conn.database): ClientConfig {
  return {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database,
    password: conn.password?.reveal(),
    ssl: clientTls(conn),
    application_name: "haven",
    connectionTimeoutMillis: 15_000,
  };
}

/** The `pg` client's TLS settings for a libpq sslmode; only the verifying modes read a CA. */
function clientTls(conn: PgConnection): ClientConfig["ssl"] {
  switch (conn.sslMode) {
    case "disable":
    case "prefer":
      return false;
    case "require":
      return { rejectUnauthorized: false, ...clientCertificate(conn) };
    case "verify-ca":
      return {
        ca: verifiedCa(conn),
        rejectUnauthorized: true,
        checkServerIdentity: () => undefined,
        ...clientCertificate(conn),
      };
    case "verify-full":
      return { ca: verifiedCa(conn), rejectUnauthorized: true, ...clientCertificate(conn) };
  }
}

/**
 * The url's client certificate and key for the `pg` client, as libpq gets them for pg_dump; ignored
 * before, so `cert` authentication failed the probe (and the row counts) while pg_dump logged in.
 */
function clientCertificate(conn: PgConnection): { cert?: string; key?: string } {
  return {
    ...(conn.sslCert ? { cert: readFileSync(conn.sslCert, "utf8") } : {}),
    ...(conn.sslKey ? { key: readFileSync(conn.sslKey, "utf8") } : {}),
  };
}

/**
 * The CA certificates a verifying libpq trusts: `sslrootcert` (tls.ca), else ~/.postgresql/root.crt
 * (libpq's default; PGSSLROOTCERT is not passed on), or the system's roots for `system` (libpq 16+).
 * Node's own default, the system's roots, made the probe refuse a server signed by a private CA in
 * root.crt that pg_dump accepted, and pass one signed by a public CA that every pg_dump then refused
 * for want of root.crt. A missing file fails here as it fails libpq.
 */
function verifiedCa(conn: PgConnection): string | undefined {
  if (conn.sslRootCert === "system") return undefined;
  // libpq reads HOME first (the tools inherit this process's), then the password database.
  const path = conn.sslRootCert ?? join(process.env.HOME || homedir(), ".postgresql", "root.crt");
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : String(error);
    throw new HavenError(
      "PERMANENT",
      `sslmode ${conn.sslMode} needs the CA certificate that signed the server's, and ${path} ${reason}`,
      {
        hint: "set tls.ca of this target to that CA's certificate file (or sslrootcert in the url), or put it at ~/.postgresql/root.crt of Haven's user",
      },
    );
  }
}

/** Quotes a value for a libpq conninfo string (`dbname='...'`). */
export function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** A libpq password file line matching any server, for the one password of this connection. */
export function passfileLine(password: Secret): string {
  const value = password.reveal();
  if (/[\r\n]/.test(value)) {
    throw new HavenError("CONFIG", "the PostgreSQL password contains a line break, which libpq cannot read", {
      hint: "remove the trailing line break from the password file, or change the password",
    });
  }
  return `*:*:*:*:${value.replace(/\\/g, "\\\\").replace(/:/g, "\\:")}\n`;
}

/** Credentials for one libpq tool run: a password file in a private directory, removed by `remove()`. */
export interface LibpqSession {
  env: NodeJS.ProcessEnv;
  remove(): Promise<void>;
}

/**
 * The environment of a libpq tool for `conn` (database: `database`). The password goes into a 0600
 * PGPASSFILE in a 0700 directory; inherited PG* variables are dropped so they cannot redirect the tool.
 */
export async function libpqSession(
  conn: PgConnection,
  database = conn.database,
  applicationName = "haven",
): Promise<LibpqSession> {
  const dir = conn.password ? await PrivateDir.create("haven-pg") : undefined;
  try {
    const passfile = conn.password
      ? await dir?.writeSecretFile("pgpass", passfileLine(conn.password))
      : undefined;
    const env = toolEnv(["PG"], {
      PGHOST: conn.host,
      PGPORT: String(conn.port),
      PGUSER: conn.user,
      PGDATABASE: database,
      PGSSLMODE: conn.sslMode,
      PGSSLROOTCERT: conn.sslRootCert,
      PGSSLCERT: conn.sslCert,
      PGSSLKEY: conn.sslKey,
      // Without a configured password libpq may still use ~/.pgpass, as the operator would expect.
      PGPASSFILE: passfile,
      PGAPPNAME: applicationName,
      PGCONNECT_TIMEOUT: "15",
    });
    return { env, remove: async () => dir?.remove() };
  } catch (error) {
    await dir?.remove();
    throw error;
  }
}

/** "host:port/database as user", for messages (never the password). */
export function describePg(conn: PgConnection, database = conn.database): string {
  return `${conn.host}:${conn.port}/${database} as ${conn.user}`;
}
