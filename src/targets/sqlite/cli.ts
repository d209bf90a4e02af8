/** SQL through the sqlite3 command-line tool. */
import { resolve } from "node:path";
import { runTool, toolError, type FailureClassifier } from "../process";

/** How long a statement waits for another connection's lock before giving up. */
const BUSY_TIMEOUT_MS = 60_000;

const classifySqliteStderr: FailureClassifier = (stderr) => {
  if (/unable to open database|no such file/i.test(stderr)) {
    return {
      code: "SOURCE_FAILED",
      hint: "check the target's path and that Haven's user may read it and its directory",
    };
  }
  if (/not a database|malformed|corrupt/i.test(stderr)) {
    return {
      code: "SOURCE_FAILED",
      hint: "the file is not a healthy SQLite database: check it with sqlite3 <file> 'pragma integrity_check'",
    };
  }
  if (/disk is full|disk I\/O error/i.test(stderr)) {
    return {
      code: "SOURCE_FAILED",
      hint: "free space where the copy is staged, or point tempDir of this target at a larger disk",
    };
  }
  if (/database is locked|busy/i.test(stderr)) {
    return {
      code: "SOURCE_FAILED",
      hint: "a writer held the database locked for too long; retry, or schedule the backup at a quieter time",
    };
  }
  return undefined;
};

export interface SqliteOptions {
  readonly?: boolean;
  signal?: AbortSignal;
}

/** Runs `sql` on `database` and returns the rows (sqlite3 -json). */
export async function sqliteJson<T>(
  database: string,
  sql: string,
  options: SqliteOptions = {},
): Promise<T[]> {
  const out = await sqliteExec(database, sql, { ...options, json: true });
  return out.trim() ? (JSON.parse(out) as T[]) : [];
}

export async function sqliteExec(
  database: string,
  sql: string,
  options: SqliteOptions & { json?: boolean } = {},
): Promise<string> {
  const args = ["-bail", "-batch", "-cmd", `.timeout ${BUSY_TIMEOUT_MS}`];
  if (options.readonly) args.push("-readonly");
  if (options.json) args.push("-json");
  // An absolute path can never be mistaken for an option (this sqlite3 has no "--"); SQL goes on stdin.
  args.push(resolve(database));
  return runTool({ command: "sqlite3", args, input: sql, signal: options.signal }, (exit) =>
    toolError("sqlite3", exit, classifySqliteStderr),
  );
}

/** A string literal for SQLite. */
export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** An identifier for SQLite. */
export function sqlIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
