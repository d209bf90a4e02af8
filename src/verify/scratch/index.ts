/**
 * The scratch place for a target's type (see types.ts for the contract every place keeps):
 * postgres → a temporary database; mysql → a temporary schema; redis → a private redis-server;
 * files → a temporary directory; sqlite → a temporary database file.
 */
import { randomBytes } from "node:crypto";
import type { TargetConfig } from "../../config/types";
import type { Logger } from "../../lib/logger";
import { filesScratch } from "./files";
import { mysqlScratch } from "./mysql";
import { postgresScratch } from "./postgres";
import { redisScratch } from "./redis";
import { sqliteScratch } from "./sqlite";
import type { ScratchPlace } from "./types";

export async function createScratchPlace(target: TargetConfig, logger: Logger): Promise<ScratchPlace> {
  const suffix = randomBytes(4).toString("hex");
  switch (target.type) {
    case "postgres":
      return postgresScratch(target, suffix, logger);
    case "mysql":
      return mysqlScratch(target, suffix, logger);
    case "redis":
      return redisScratch();
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

export { checkFile, scratchDirPrefix, scratchParent } from "./files";
export { scratchDatabaseName, type ScratchPlace } from "./types";
