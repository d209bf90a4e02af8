/**
 * The `redis` target: an RDB snapshot of the whole server through the replication protocol (see
 * backup.ts); restored to an RDB file or verified in a scratch server (see restore.ts, scratch.ts).
 * The snapshot holds every database of the server, so the target's `database` setting plays no part.
 */
import type { Logger } from "pino";
import type { TargetConfigOf } from "../../config/types";
import { fetchSteps, plainStreamCommand, type RecipePayload } from "../recipe";
import type { TargetAdapter } from "../types";
import { backupRedis } from "./backup";
import { resolveRedisConnection } from "./connection";
import { probeRedis } from "./probe";
import { restoreRedis } from "./restore";

/** The logger is unused: every operation gets its run's logger. Kept for one registry signature. */
export function createRedisAdapter(config: TargetConfigOf<"redis">, _logger: Logger): TargetAdapter {
  const resolve = () => resolveRedisConnection(config);
  return {
    name: config.name,
    type: "redis",
    capabilities: { pointInTime: true, restoreElsewhere: true, partialRestore: false },
    probe: (signal) => probeRedis(resolve, signal),
    backup: (run) => backupRedis(resolve(), run),
    restore: (body, to, run, opts) => restoreRedis(body, to, run, opts),
    recipe: (payload) => redisRecipe(payload),
  };
}

export function redisRecipe(payload: RecipePayload): string[] {
  return [
    ...fetchSteps(payload),
    `${plainStreamCommand(payload)} > dump.rdb`,
    "# check it: redis-check-rdb dump.rdb; try it: redis-server --port 6390 --dir . --dbfilename dump.rdb --appendonly no",
    "# into the server: stop it, put dump.rdb at CONFIG GET dir/dbfilename (move any appendonly dir aside), start it",
  ];
}
