/**
 * The registry of target adapters: one `createAdapter` that turns a resolved target config into the
 * adapter for its `type`. Creating an adapter is cheap and touches nothing: connections are made and
 * config problems inside a target (a bad url) are found by `probe` or `backup`, not here.
 */
import type { Logger } from "pino";
import type { TargetConfig } from "../config/types";
import { createFilesAdapter } from "./files/adapter";
import { createMysqlAdapter } from "./mysql/adapter";
import { createPostgresAdapter } from "./postgres/adapter";
import { createRedisAdapter } from "./redis/adapter";
import { createSqliteAdapter } from "./sqlite/adapter";
import type { TargetAdapter } from "./types";

export function createAdapter(config: TargetConfig, logger: Logger): TargetAdapter {
  switch (config.type) {
    case "files":
      return createFilesAdapter(config, logger);
    case "postgres":
      return createPostgresAdapter(config, logger);
    case "mysql":
      return createMysqlAdapter(config, logger);
    case "redis":
      return createRedisAdapter(config, logger);
    case "sqlite":
      return createSqliteAdapter(config, logger);
    default: {
      const unknown: never = config;
      throw new Error(`unknown target type ${(unknown as { type: string }).type}`);
    }
  }
}

export type { TargetAdapter } from "./types";
