/**
 * The registry of target adapters: one `createAdapter` that turns a resolved target config into the
 * adapter for its `type`. Creating an adapter is cheap and touches nothing: connections are made and
 * config problems inside a target (a bad url) are found by `probe` or `backup`, not here.
 *
 * Each adapter's module is loaded when the first adapter of its type is created, not with the
 * registry: every CLI command reaches this file, and loading all five (with ioredis, pg, the tar and
 * MySQL code) cost a PostgreSQL backup ~40 ms of start-up for adapters it never uses.
 */
import type { Logger } from "pino";
import type { TargetConfig, TargetConfigOf } from "../config/types";
import type { TargetAdapter } from "./types";

/* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, see above */
const factories: {
  [K in TargetConfig["type"]]: () => (config: TargetConfigOf<K>, logger: Logger) => TargetAdapter;
} = {
  files: () => (require("./files/adapter") as typeof import("./files/adapter")).createFilesAdapter,
  postgres: () =>
    (require("./postgres/adapter") as typeof import("./postgres/adapter")).createPostgresAdapter,
  mysql: () => (require("./mysql/adapter") as typeof import("./mysql/adapter")).createMysqlAdapter,
  redis: () => (require("./redis/adapter") as typeof import("./redis/adapter")).createRedisAdapter,
  sqlite: () => (require("./sqlite/adapter") as typeof import("./sqlite/adapter")).createSqliteAdapter,
};
/* eslint-enable @typescript-eslint/no-require-imports */

export function createAdapter(config: TargetConfig, logger: Logger): TargetAdapter {
  const factory = factories[config.type] as
    (() => (config: TargetConfig, logger: Logger) => TargetAdapter) | undefined;
  if (factory === undefined) throw new Error(`unknown target type ${(config as { type: string }).type}`);
  return factory()(config, logger);
}

export type { TargetAdapter } from "./types";
