/**
 * Redis scratch place: a private redis-server on a free loopback port (`startScratchRedis`), loaded
 * from the snapshot's RDB, with a random password so no other local client can use it meanwhile. Its
 * directory, `haven-redis-scratch-<target>-<time>-XXXXXX` in the OS temp dir (names.ts), holds its pid
 * file. Cleanup stops the server and removes its directory; a later test of the target stops and
 * removes those whose test crashed (sweep.ts).
 */
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import type { TargetConfigOf } from "../../config/types";
import type { Logger } from "../../lib/logger";
import { stopOrphanRedis } from "../../targets/redis/orphan";
import { startScratchRedis, type RedisServerHandle } from "../../targets/redis/scratch";
import { countCheck, recordedNumber } from "../checks";
import { sweepFolders } from "./folder-sweep";
import { redisDirPrefix, timeStamp } from "./names";
import type { ScratchPlace } from "./types";

/**
 * How far the restored key count may be from the recorded one. The count is taken from INFO before
 * the server forks the RDB (up to repl-diskless-sync-delay, 5 s, later), so on a busy server keys
 * written, deleted or expired meanwhile make an exact comparison fail, and a failed check counts as
 * damage. The RDB's own CRC-64 (checked as it loads) is what proves the data whole; this check
 * catches a snapshot of the wrong server or a lost database, which differ by far more.
 */
export function keyCountTolerance(expected: number): number {
  return Math.max(100, Math.ceil(expected * 0.01));
}

/**
 * Stops the target's scratch redis-servers whose test crashed and removes their directories
 * (sweep.ts decides which). Never rejects; returns the directory names removed.
 */
export function sweepRedisScratch(
  target: TargetConfigOf<"redis">,
  logger: Logger,
  now: Date = new Date(),
): Promise<string[]> {
  return sweepFolders(tmpdir(), redisDirPrefix(target.name), logger, now, async (dir) => {
    if (await stopOrphanRedis(dir))
      logger.warn({ dir }, "stopped the redis-server of a crashed restore test");
  });
}

export function redisScratch(target: TargetConfigOf<"redis">): ScratchPlace {
  const password = randomBytes(16).toString("hex");
  // PrivateDir adds the "-" before mkdtemp's characters (stampedDirPrefix's, for folders made here).
  const dirPrefix = `${redisDirPrefix(target.name)}${timeStamp(new Date())}`;
  let server: RedisServerHandle | undefined;

  return {
    description: "a private redis-server on 127.0.0.1",

    async restore(body, run) {
      server = await startScratchRedis(body, { password, signal: run.signal, dirPrefix });
      run.logger.info({ port: server.port }, "scratch redis-server loaded the snapshot");
      return { port: server.port };
    },

    async builtInChecks({ manifest }) {
      const expected = recordedNumber(manifest.stats, "keys");
      if (expected === undefined || !server) return [];
      const keyspace = await server.keyspace();
      // Keys whose TTL passed since the backup are in the snapshot, but the server drops them as it
      // loads: a snapshot restore-tested after its sessions expired is not missing them.
      const expired = server.expiredAtLoad ?? 0;
      const actual = Object.values(keyspace).reduce((a, b) => a + b, expired);
      return [
        countCheck(
          "keys",
          expected,
          actual,
          `per database: ${JSON.stringify(keyspace)}, and ${expired} expired while loading; recorded at backup time: ${JSON.stringify(manifest.stats.keyspace ?? {})} (counted just before the snapshot, so a busy server may differ a little)`,
          { tolerance: keyCountTolerance(expected) },
        ),
      ];
    },

    async cleanup() {
      await server?.stop();
    },
  };
}
