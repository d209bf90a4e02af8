/**
 * The SQLite probe: sqlite3 present, the file there and a readable SQLite database, and room in the
 * temp directory for the consistent copy. Read-only; never throws.
 */
import { statfs, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describeError, isHavenError } from "../../lib/errors";
import { toolVersion } from "../process";
import type { ProbeResult } from "../types";
import { sqliteJson } from "./cli";
import type { SqliteSource } from "./backup";

type Check = ProbeResult["checks"][number];

export async function probeSqlite(source: SqliteSource, signal: AbortSignal): Promise<ProbeResult> {
  const checks: Check[] = [];
  const fail = (name: string, error: unknown, hint?: string) =>
    checks.push({
      name,
      ok: false,
      detail: isHavenError(error) ? error.message : describeError(error),
      hint: hint ?? (isHavenError(error) ? error.hint : undefined),
    });
  try {
    checks.push({ name: "sqlite3", ok: true, detail: await toolVersion("sqlite3", signal) });
  } catch (error) {
    fail("sqlite3", error, "install sqlite3 (apt-get install sqlite3)");
  }
  let size = 0;
  try {
    size = (await stat(source.path)).size;
    const [row] = await sqliteJson<{ tables: number; journal: string }>(
      source.path,
      "select (select count(*) from sqlite_schema where type = 'table') as tables, (select journal_mode from pragma_journal_mode) as journal;",
      { readonly: true, signal },
    );
    checks.push({
      name: "database",
      ok: true,
      detail: `${source.path}: ${size} bytes, ${row?.tables ?? 0} tables, journal mode ${row?.journal ?? "?"}`,
    });
  } catch (error) {
    fail(
      "database",
      error,
      "check the target's path, and that Haven's user may read the file and its directory",
    );
  }
  const tempDir = source.tempDir ?? tmpdir();
  try {
    const fs = await statfs(tempDir);
    const free = fs.bavail * fs.bsize;
    checks.push({
      name: "temp space",
      ok: free > size,
      detail: `${free} bytes free in ${tempDir} for a copy of up to ${size} bytes`,
      hint: free > size ? undefined : "free space there, or point tempDir of this target at a larger disk",
    });
  } catch (error) {
    fail("temp space", error, "create the directory, or fix tempDir of this target");
  }
  return { ok: checks.every((c) => c.ok), checks };
}
