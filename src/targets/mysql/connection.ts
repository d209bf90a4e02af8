/**
 * One MySQL/MariaDB connection description, from a target's `url` and fields (fields win), handed to
 * mariadb-dump / mysqldump and the mariadb / mysql client as a temporary option file
 * (`--defaults-file`, 0600 in a 0700 directory, removed afterwards): never a password on the command
 * line, where `ps` shows it, and no inherited option files that could change the dump's format.
 */
import type { TargetConfigOf } from "../../config/types";
import { hasScheme, schemesText, refuseUnsupportedUrlParameters } from "../../config/url-schemes";
import { HavenError } from "../../lib/errors";
import { Secret, decodeUrlPart } from "../../lib/secret";
import { PrivateDir } from "../process";

export type MysqlFlavor = "mariadb" | "mysql";

export interface MysqlConnection {
  host: string;
  port: number;
  socket?: string;
  user: string;
  password?: Secret;
  database: string;
  tls?: { enabled: boolean; ca?: string; rejectUnauthorized: boolean };
}

type MysqlTargetConnection = Pick<
  TargetConfigOf<"mysql">,
  "name" | "url" | "host" | "port" | "socket" | "user" | "password" | "database" | "tls"
>;

/** Defaults: host 127.0.0.1 (TCP; set `socket` for a local socket), port 3306, user root. */
export function resolveMysqlConnection(target: MysqlTargetConnection): MysqlConnection {
  const fromUrl = target.url ? parseMysqlUrl(target.url, target.name) : {};
  const database = target.database ?? fromUrl.database;
  if (!database) {
    throw new HavenError("CONFIG", `target ${target.name}: no database (schema) to back up`, {
      hint: `set targets.${target.name}.database, or name it in the url (mysql://host/dbname)`,
    });
  }
  return {
    host: target.host ?? fromUrl.host ?? "127.0.0.1",
    port: target.port ?? fromUrl.port ?? 3306,
    socket: target.socket,
    user: target.user ?? fromUrl.user ?? "root",
    password: target.password ?? fromUrl.password,
    database,
    tls: target.tls,
  };
}

function parseMysqlUrl(url: Secret, target: string): Partial<MysqlConnection> {
  let parsed: URL;
  try {
    parsed = new URL(url.reveal());
  } catch {
    throw new HavenError("CONFIG", `target ${target}: url is not a valid URL`, {
      hint: "use mysql://user@host:3306/dbname (the password in passwordFile)",
    });
  }
  if (!hasScheme("mysql", parsed.protocol)) {
    throw new HavenError("CONFIG", `target ${target}: url must start with ${schemesText("mysql")}`);
  }
  refuseUnsupportedUrlParameters("mysql", parsed, target);
  const decode = (text: string) => (text ? decodeUrlPart(text) : undefined);
  return {
    host: decode(parsed.hostname),
    port: parsed.port ? Number(parsed.port) : undefined,
    user: decode(parsed.username),
    password: parsed.password ? new Secret(decodeUrlPart(parsed.password)) : undefined,
    database: decode(parsed.pathname.replace(/^\//, "")),
  };
}

/**
 * A value for a MySQL option file: double-quoted, so `#` is not a comment, with the escapes the
 * option file reader understands (\\ \" \n \r \t).
 */
export function optionValue(value: string): string {
  const escaped = value
    .replace(/\\/g, "\\\\")
    .replace(/"/g, '\\"')
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t");
  return `"${escaped}"`;
}

/** The `[client]` group for `conn`; TLS options differ between the MariaDB and MySQL clients. */
export function optionFileText(conn: MysqlConnection, flavor: MysqlFlavor): string {
  const lines = ["[client]", `user=${optionValue(conn.user)}`];
  if (conn.password) lines.push(`password=${optionValue(conn.password.reveal())}`);
  if (conn.socket) {
    lines.push("host=localhost", `socket=${optionValue(conn.socket)}`);
  } else {
    lines.push(`host=${optionValue(conn.host)}`, `port=${conn.port}`, "protocol=TCP");
  }
  const tls = conn.tls;
  if (tls && !tls.enabled) lines.push(flavor === "mysql" ? "ssl-mode=DISABLED" : "skip-ssl");
  if (tls?.enabled) {
    if (tls.ca) lines.push(`ssl-ca=${optionValue(tls.ca)}`);
    if (flavor === "mysql") {
      lines.push(`ssl-mode=${tls.rejectUnauthorized ? "VERIFY_IDENTITY" : "REQUIRED"}`);
    } else {
      lines.push("ssl");
      lines.push(tls.rejectUnauthorized ? "ssl-verify-server-cert" : "skip-ssl-verify-server-cert");
    }
  }
  return `${lines.join("\n")}\n`;
}

/** An option file for one tool run; `remove()` deletes it (call it in a `finally`). */
export interface OptionFile {
  path: string;
  remove(): Promise<void>;
}

export async function writeOptionFile(conn: MysqlConnection, flavor: MysqlFlavor): Promise<OptionFile> {
  const dir = await PrivateDir.create("haven-mysql");
  try {
    const path = await dir.writeSecretFile("my.cnf", optionFileText(conn, flavor));
    return { path, remove: () => dir.remove() };
  } catch (error) {
    await dir.remove();
    throw error;
  }
}

/** `name` quoted as a MySQL identifier. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/`/g, "``")}\``;
}

/**
 * `value` as a MySQL string literal that no server mode can end early: quotes doubled (valid in every
 * mode), backslashes doubled. With NO_BACKSLASH_ESCAPES a `\'` would end the string and let the rest
 * run as SQL; there a backslash in a name only comes out doubled.
 */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

export function describeMysql(conn: MysqlConnection, database = conn.database): string {
  return `${conn.socket ?? `${conn.host}:${conn.port}`}/${database} as ${conn.user}`;
}
