/**
 * The `sqlite` target: a consistent online copy made with VACUUM INTO (see backup.ts), restored to a
 * database file (see restore.ts).
 */
import type { Logger } from "pino";
import type { TargetConfigOf } from "../../config/types";
import { fetchSteps, plainStreamCommand, type RecipePayload } from "../recipe";
import type { TargetAdapter } from "../types";
import { backupSqlite } from "./backup";
import { probeSqlite } from "./probe";
import { restoreSqlite } from "./restore";

/** The logger is unused: every operation gets its run's logger. Kept for one registry signature. */
export function createSqliteAdapter(config: TargetConfigOf<"sqlite">, _logger: Logger): TargetAdapter {
  const source = { path: config.path, tempDir: config.tempDir };
  return {
    name: config.name,
    type: "sqlite",
    capabilities: { pointInTime: true, restoreElsewhere: true, partialRestore: false },
    probe: (signal) => probeSqlite(source, signal),
    backup: (run) => backupSqlite(source, run),
    restore: (body, to, run, opts) => restoreSqlite(config.path, body, to, run, opts),
    recipe: (payload) => sqliteRecipe(payload),
  };
}

export function sqliteRecipe(payload: RecipePayload): string[] {
  return [
    ...fetchSteps(payload),
    `${plainStreamCommand(payload)} > restored.db`,
    "sqlite3 restored.db 'pragma integrity_check'   # expect: ok",
    "# stop the application, move restored.db over its database file, remove any old -wal/-shm files, start it",
  ];
}
