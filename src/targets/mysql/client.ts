/** SQL through the mariadb / mysql command-line client, credentials in a temporary option file. */
import { runTool, toolError } from "../process";
import { writeOptionFile, type MysqlConnection } from "./connection";
import { classifyMysqlStderr } from "./errors";
import type { MysqlTool } from "./tools";

export interface QueryOptions {
  /** Schema to connect to; null for none (default: the connection's). */
  database?: string | null;
  signal?: AbortSignal;
}

/**
 * Runs `sql` (one or more statements, on stdin) and returns the rows of the last result set, as
 * text fields. Rejects with a classified HavenError (CREDENTIALS, SOURCE_FAILED) on failure.
 */
export async function mysqlQuery(
  conn: MysqlConnection,
  client: MysqlTool,
  sql: string,
  options: QueryOptions = {},
): Promise<string[][]> {
  const database = options.database === undefined ? conn.database : options.database;
  const optionFile = await writeOptionFile(conn, client.flavor);
  try {
    const args = [`--defaults-file=${optionFile.path}`, "--batch", "--skip-column-names", "--raw"];
    if (database !== null) args.push(`--database=${database}`);
    const out = await runTool(
      {
        command: client.command,
        args,
        input: sql,
        signal: options.signal,
        secrets: [conn.password],
        timeoutMs: 120_000,
      },
      (exit) => toolError(client.command, exit, classifyMysqlStderr),
    );
    return out
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => line.split("\t"));
  } finally {
    await optionFile.remove();
  }
}
