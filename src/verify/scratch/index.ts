/**
 * The scratch place for a target's type (see types.ts for the contract every place keeps):
 * postgres → a temporary database; mysql → a temporary schema; redis → a private redis-server;
 * files → a temporary directory; sqlite → a temporary database file.
 */
import { randomBytes } from "node:crypto";
import type { TargetConfig } from "../../config/types";
import type { Logger } from "../../lib/logger";
import { filesScratch, scratchParent, sweepFilesScratch } from "./files";
import { sweepFolders } from "./folder-sweep";
import { mysqlScratch, sweepMysqlScratch } from "./mysql";
import { postgresScratch, sweepPostgresScratch } from "./postgres";
import { redisScratch, sweepRedisScratch } from "./redis";
import { sqliteScratch } from "./sqlite";
import { scratchDirPrefix } from "./names";
import type { ScratchPlace } from "./types";

export async function createScratchPlace(target: TargetConfig, logger: Logger): Promise<ScratchPlace> {
  // Unique together with the creation second in the name (names.ts).
  const suffix = randomBytes(2).toString("hex");
  switch (target.type) {
    case "postgres":
      return postgresScratch(target, suffix, logger);
    case "mysql":
      return mysqlScratch(target, suffix, logger);
    case "redis":
      return redisScratch(target);
    case "files":
      return filesScratch(target, logger);
    case "sqlite":
      return sqliteScratch(target, logger);
    default: {
      const unknown: never = target;
      throw new Error(`unknown target type ${(unknown as { type: string }).type}`);
    }
  }
}

/**
 * Removes what crashed restore tests of `target` left in the place its next scratch place goes (its
 * scratch server, its scratch folder), before that place is created. Never rejects: a failed sweep
 * is a warning in the log, and the test goes on.
 */
export async function sweepScratchLeftovers(
  target: TargetConfig,
  logger: Logger,
  now: Date = new Date(),
): Promise<string[]> {
  switch (target.type) {
    case "postgres":
      return sweepPostgresScratch(target, logger, now);
    case "mysql":
      return sweepMysqlScratch(target, logger, now);
    case "redis":
      return sweepRedisScratch(target, logger, now);
    case "files":
      return sweepFilesScratch(target, logger, now);
    case "sqlite":
      return sweepFolders(scratchParent(target.verify.into), scratchDirPrefix(target.name), logger, now);
    default: {
      const unknown: never = target;
      throw new Error(`unknown target type ${(unknown as { type: string }).type}`);
    }
  }
}

export { checkFile, scratchParent } from "./files";
export { scratchDatabaseName, scratchDirPrefix } from "./names";
export type { ScratchPlace } from "./types";
