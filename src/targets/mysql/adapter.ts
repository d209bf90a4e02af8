/**
 * The `mysql` target (MySQL and MariaDB): one schema, dumped as SQL with mariadb-dump / mysqldump in
 * a single transaction (see backup.ts), restored through the mariadb / mysql client (see restore.ts).
 */
import type { Logger } from "pino";
import type { TargetConfigOf } from "../../config/types";
import { fetchSteps, plainStreamCommand, type RecipePayload } from "../recipe";
import type { TargetAdapter } from "../types";
import { backupMysql } from "./backup";
import { resolveMysqlConnection } from "./connection";
import { probeMysql } from "./probe";
import { restoreMysql } from "./restore";

/** The logger is unused: every operation gets its run's logger. Kept for one registry signature. */
export function createMysqlAdapter(config: TargetConfigOf<"mysql">, _logger: Logger): TargetAdapter {
  const resolve = () => resolveMysqlConnection(config);
  return {
    name: config.name,
    type: "mysql",
    capabilities: { pointInTime: true, restoreElsewhere: true, partialRestore: false },
    probe: (signal) => probeMysql(resolve, signal),
    backup: (run) => backupMysql(resolve(), run),
    restore: (body, to, run, opts) => restoreMysql(config.name, resolve(), body, to, run, opts),
    recipe: (payload) => mysqlRecipe(payload),
  };
}

/** Restore with the standard client alone. */
export function mysqlRecipe(payload: RecipePayload): string[] {
  return [
    ...fetchSteps(payload),
    // A MariaDB dump starts with a sandbox-mode line that the MySQL client refuses: each server's
    // own client reads its dumps.
    "mariadb -e 'CREATE DATABASE newdb'   # mysql for a MySQL server's dump; credentials from ~/.my.cnf",
    `${plainStreamCommand(payload)} | mariadb --binary-mode newdb   # or mysql --binary-mode, as above`,
  ];
}
