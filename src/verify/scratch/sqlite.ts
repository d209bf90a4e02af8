/**
 * SQLite scratch place: the snapshot restored to `restored.db` in a private temporary directory (under
 * the OS temp dir, or `verify.into` when that is an absolute path). The adapter's restore runs
 * `pragma integrity_check` on it; the checks count rows per table and run the YAML SQL read-only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { TargetConfigOf } from "../../config/types";
import type { Logger } from "../../lib/logger";
import { createAdapter } from "../../targets";
import { sqlIdentifier, sqliteJson, sqlString } from "../../targets/sqlite/cli";
import { recordedTables, rowCountChecks } from "../checks";
import { scratchParent } from "./files";
import { scratchDirPrefix, stampedDirPrefix } from "./names";
import type { ScratchPlace } from "./types";

export async function sqliteScratch(target: TargetConfigOf<"sqlite">, logger: Logger): Promise<ScratchPlace> {
  const prefix = stampedDirPrefix(scratchDirPrefix(target.name), new Date());
  const directory = await mkdtemp(join(scratchParent(target.verify.into), prefix));
  const database = join(directory, "restored.db");
  const adapter = createAdapter(target, logger);

  return {
    description: `sqlite file ${database}`,
    restore: (body, run, options) => adapter.restore(body, { kind: "path", path: database }, run, options),

    async builtInChecks({ manifest, signal }) {
      const expected = recordedTables(manifest.stats);
      if (!expected) return [];
      const present = new Set(
        (
          await sqliteJson<{ name: string }>(
            database,
            "select name from sqlite_schema where type = 'table';",
            {
              readonly: true,
              signal,
            },
          )
        ).map((r) => `main.${r.name}`),
      );
      const actual: Record<string, number | null> = {};
      const counted = Object.keys(expected).filter((key) => {
        actual[key] = null;
        return present.has(key);
      });
      if (counted.length > 0) {
        const sql = counted
          .map(
            (key) => `select ${sqlString(key)} as k, count(*) as n from main.${sqlIdentifier(key.slice(5))}`,
          )
          .join(" union all ");
        const rows = await sqliteJson<{ k: string; n: number }>(database, `${sql};`, {
          readonly: true,
          signal,
        });
        for (const row of rows) actual[row.k] = row.n;
      }
      return rowCountChecks(expected, actual);
    },

    async query(sql, signal) {
      const rows = await sqliteJson<Record<string, unknown>>(
        database,
        sql.trim().endsWith(";") ? sql : `${sql};`,
        {
          readonly: true,
          signal,
        },
      );
      const row = rows[0];
      return { value: row === undefined ? undefined : Object.values(row)[0], hasRow: row !== undefined };
    },

    async cleanup() {
      await rm(directory, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
