/**
 * A Redis backup: an RDB snapshot of the whole server (every database) through the replication
 * protocol, `redis-cli --rdb -`, streamed as it arrives (rdb-stream.ts makes it an exact RDB file).
 * The server forks and writes the snapshot at one point in time; with diskless replication it waits
 * `repl-diskless-sync-delay` (5 s by default) before it starts.
 *
 * Key counts come from INFO keyspace just before the transfer starts, so on a busy server they can
 * differ a little from the snapshot; a restore test counts the keys of the snapshot itself.
 */
import { pipeline } from "node:stream/promises";
import type { HavenError } from "../../lib/errors";
import { settledOutput, spawnTool, toolError, toolVersion, type ToolExit } from "../process";
import type { BackupStats, BackupStream, RunContext } from "../types";
import { serverInfo, withRedis } from "./client";
import { redisCliInvocation, type RedisConnection } from "./connection";
import { classifyRedisStderr } from "./errors";
import { RdbStream, rdbLengthFromStderr } from "./rdb-stream";

export async function backupRedis(conn: RedisConnection, run: RunContext): Promise<BackupStream> {
  const info = await withRedis(conn, run.signal, serverInfo);
  const cliVersion = await toolVersion("redis-cli", run.signal);
  const { args, env } = redisCliInvocation(conn);
  const cli = spawnTool({
    command: "redis-cli",
    args: [...args, "--rdb", "-"],
    env,
    signal: run.signal,
    secrets: [conn.password],
    logger: run.logger,
  });
  run.logger.info({ pid: cli.pid, keys: info.keys }, "RDB transfer started");
  let cliError: HavenError | undefined;
  const failure = (exit: ToolExit) => (cliError ??= toolError("redis-cli", exit, classifyRedisStderr));

  const rdb = new RdbStream(async () => rdbLengthFromStderr((await cli.exit).stderr));
  const transferred = pipeline(settledOutput(cli, failure), rdb);
  transferred.catch(() => undefined);

  const done = (async (): Promise<BackupStats> => {
    const exit = await cli.exit;
    if (!exit.ok) throw failure(exit);
    await transferred;
    return {
      keys: info.keys,
      keyspace: info.keyspace,
      source: { server: `Redis ${info.version}`, "redis-cli": cliVersion },
    };
  })();
  done.catch(() => undefined);
  return { main: { name: "data", format: "rdb", body: rdb }, done };
}
