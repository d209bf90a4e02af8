/**
 * Scratch Redis servers: a private `redis-server` on a free loopback port, its data in a private temp
 * directory. `startScratchRedis(rdb)` loads an RDB snapshot into one, which is how a Redis snapshot is
 * verified (restore tests) and inspected; tests also use `startRedisServer` as a private source.
 */
import { Redis } from "ioredis";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HavenError } from "../../lib/errors";
import { PrivateDir, spawnTool, type ToolProcess } from "../process";
import { closeQuietly } from "./client";
import { PID_FILE } from "./orphan";
import { RdbStream } from "./rdb-stream";

export interface RedisServerHandle {
  port: number;
  /** The server's data directory (private; removed by `stop`). */
  dir: string;
  /** Keys per database, e.g. { db0: 12, db3: 1 }, from INFO keyspace. */
  keyspace(): Promise<Record<string, number>>;
  /**
   * Keys of the loaded RDB that the server dropped while loading because their TTL had passed
   * (Redis 7 logs the figure); undefined when the server did not say.
   */
  expiredAtLoad?: number;
  /** Stops the server (without saving) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** requirepass of the default user (written to the server's config file, not its arguments). */
  password?: string;
  /** An RDB file in the server's directory to load at start. */
  dbfilename?: string;
  /** Extra config lines (tests set e.g. `repl-diskless-sync-delay 0`). */
  config?: string[];
  /**
   * The name of the private directory, before mkdtemp's `-XXXXXX` (default `haven-redis-scratch`):
   * restore tests put the target and the creation time in it, so a later test can sweep the
   * directory, and the server in it, when the process that started it died.
   */
  dirPrefix?: string;
  signal?: AbortSignal;
}

const START_ATTEMPTS = 5;
const READY = /Ready to accept connections/;

/** Starts a private redis-server on a free port; retries on a port another process took meanwhile. */
export async function startRedisServer(
  options: RedisServerOptions = {},
  dir?: PrivateDir,
): Promise<RedisServerHandle> {
  const home = dir ?? (await PrivateDir.create("haven-redis"));
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = await home.writeSecretFile(
        `redis-${port}.conf`,
        serverConfig(port, home.path, options),
      );
      const server = spawnTool({
        command: "redis-server",
        args: [configFile],
        signal: options.signal,
        stdin: "ignore",
      });
      const { ready, log: outcome } = await readiness(server);
      if (ready) return handle(server, port, home, options.password, expiredAtLoad(outcome));
      const exit = await server.exit;
      if (/Address already in use/i.test(outcome) && attempt < START_ATTEMPTS) continue;
      throw new HavenError(
        rdbProvedDamaged(outcome, exit) ? "INTEGRITY" : "PERMANENT",
        `redis-server did not start: ${lastLines(outcome || exit.stderr)}`,
        {
          hint: "check the RDB file and that redis-server (same or newer version as the source) is installed",
        },
      );
    }
  } catch (error) {
    if (!dir) await home.remove();
    throw error;
  }
}

/**
 * Only the server's own verdict on the file's contents proves the snapshot damaged (INTEGRITY, which
 * makes it no good backup for the RPO). An RDB newer than this redis-server, a server killed while
 * loading (out of memory) or any other start-up failure says nothing of the snapshot: its checksum
 * was already checked by RdbStream.
 */
function rdbProvedDamaged(log: string, exit: { signal: NodeJS.Signals | null }): boolean {
  if (exit.signal !== null || /RDB format version|OOM/i.test(log)) return false;
  return /Wrong RDB checksum|Bad file format|Unexpected EOF|Internal error in RDB/i.test(log);
}

/**
 * Streams `rdb` into a private directory and starts a redis-server on it: the RDB is loaded at
 * start (a server needs a file to load from, hence the one copy). Rejects with INTEGRITY when the
 * stream is not a complete RDB or the server cannot load it.
 */
export async function startScratchRedis(
  rdb: Readable,
  options: Omit<RedisServerOptions, "dbfilename"> = {},
): Promise<RedisServerHandle> {
  const home = await PrivateDir.create(options.dirPrefix ?? "haven-redis-scratch");
  try {
    await pipeline(rdb, await RdbStream.exact(), createWriteStream(home.file("dump.rdb"), { mode: 0o600 }), {
      signal: options.signal,
    });
    return await startRedisServer({ ...options, dbfilename: "dump.rdb" }, home);
  } catch (error) {
    await home.remove();
    if (error instanceof HavenError && error.code === "SOURCE_FAILED") {
      throw new HavenError("INTEGRITY", error.message, {
        hint: "the snapshot's RDB is damaged: check its stored copy with `haven verify TARGET`, and restore an earlier snapshot (haven snapshots TARGET)",
        cause: error,
      });
    }
    throw error;
  }
}

function serverConfig(port: number, dir: string, options: RedisServerOptions): string {
  const quote = (value: string) => `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  return [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${quote(dir)}`,
    `dbfilename ${quote(options.dbfilename ?? "dump.rdb")}`,
    // Found by a sweep when the process that started the server died (orphan.ts).
    `pidfile ${quote(join(dir, PID_FILE))}`,
    'save ""',
    "appendonly no",
    "daemonize no",
    'logfile ""',
    "loglevel notice",
    ...(options.password ? [`requirepass ${quote(options.password)}`] : []),
    ...(options.config ?? []),
    "",
  ].join("\n");
}

/** The log the server wrote until it accepted connections (ready) or exited. */
function readiness(server: ToolProcess): Promise<{ ready: boolean; log: string }> {
  const stdout = server.stdout;
  if (!stdout) return Promise.resolve({ ready: false, log: "no output" });
  return new Promise((resolve) => {
    let log = "";
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (READY.test(log)) {
        stdout.off("data", onData);
        // Keep draining the log so the server never blocks on a full pipe.
        stdout.resume();
        resolve({ ready: true, log });
      }
    };
    stdout.on("data", onData);
    void server.exit.then(() => resolve({ ready: false, log }));
  });
}

/** "Done loading RDB, keys loaded: 20, keys expired: 5." (Redis 7 and later). */
function expiredAtLoad(log: string): number | undefined {
  const match = /Done loading RDB, keys loaded: \d+, keys expired: (\d+)/.exec(log);
  return match ? Number(match[1]) : undefined;
}

function handle(
  server: ToolProcess,
  port: number,
  home: PrivateDir,
  password: string | undefined,
  expiredAtLoad: number | undefined,
): RedisServerHandle {
  let stopped: Promise<void> | undefined;
  return {
    port,
    dir: home.path,
    ...(expiredAtLoad === undefined ? {} : { expiredAtLoad }),
    async keyspace() {
      const client = new Redis({
        host: "127.0.0.1",
        port,
        password,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
      });
      try {
        await client.connect();
        return parseKeyspace(await client.info("keyspace"));
      } finally {
        await closeQuietly(client);
      }
    },
    stop() {
      stopped ??= (async () => {
        server.kill();
        await server.exit;
        await home.remove();
      })();
      return stopped;
    },
  };
}

/** `{ db0: 12 }` from the text of INFO keyspace ("db0:keys=12,expires=0,avg_ttl=0"). */
export function parseKeyspace(info: string): Record<string, number> {
  const keyspace: Record<string, number> = {};
  for (const match of info.matchAll(/^(db\d+):keys=(\d+)/gm)) keyspace[match[1] as string] = Number(match[2]);
  return keyspace;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const address = probe.address();
  probe.close();
  await once(probe, "close");
  if (address === null || typeof address === "string") throw new Error("could not find a free port");
  return address.port;
}

function lastLines(text: string): string {
  return text.trim().split("\n").slice(-5).join("\n");
}
