/**
 * The `postgres` target: one database, dumped with pg_dump in custom format inside an exported
 * snapshot (see backup.ts), restored with pg_restore (see restore.ts).
 */
import { posix } from "node:path";
import type { Logger } from "pino";
import type { TargetConfigOf } from "../../config/types";
import { fetchSteps, plainStreamCommand, type RecipePayload } from "../recipe";
import type { TargetAdapter } from "../types";
import { backupPostgres } from "./backup";
import { resolvePgConnection } from "./connection";
import { probePostgres } from "./probe";
import { restorePostgres } from "./restore";

/** The logger is unused: every operation gets its run's logger. Kept for one registry signature. */
export function createPostgresAdapter(config: TargetConfigOf<"postgres">, _logger: Logger): TargetAdapter {
  return {
    name: config.name,
    type: "postgres",
    capabilities: { pointInTime: true, restoreElsewhere: true, partialRestore: false },
    probe: (signal) => probePostgres(config, signal),
    backup: (run) => backupPostgres(config, resolvePgConnection(config), run),
    restore: (body, to, run, opts) =>
      restorePostgres(config.name, resolvePgConnection(config), body, to, run, opts),
    recipe: (payload) => postgresRecipe(payload, config.globals),
  };
}

/** Restore with the standard tools alone: createdb, pg_restore, psql. */
export function postgresRecipe(payload: RecipePayload, globals: boolean): string[] {
  const plain = plainStreamCommand(payload);
  const lines = [
    ...fetchSteps(payload),
    "createdb --template=template0 NEWDB   # connection: PGHOST, PGPORT, PGUSER, PGPASSWORD or ~/.pgpass",
    `${plain} | pg_restore --exit-on-error --clean --if-exists --dbname=NEWDB`,
    "# (--clean --if-exists: harmless on a new database; needed when the dump recreates the public schema)",
    `# parallel restore needs a file: ${plain} > data.pgdump && pg_restore --jobs=4 --exit-on-error --clean --if-exists --dbname=NEWDB data.pgdump`,
  ];
  if (globals) {
    const globalsKey = posix.join(
      posix.dirname(payload.key),
      posix.basename(payload.key).replace(/^data\.pgdump/, "globals.sql"),
    );
    lines.push(
      `# roles and tablespaces, before the database if they are missing on the server (object ${globalsKey}):`,
      `${plainStreamCommand({ ...payload, key: globalsKey })} | psql --dbname=postgres`,
    );
  }
  lines.push(`# a plain SQL script instead: ${plain} | pg_restore --file=restore.sql`);
  return lines;
}
