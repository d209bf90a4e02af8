/**
 * Stopping the redis-server of a scratch directory whose owner died. A scratch server writes its pid
 * to `redis-server.pid` in its own directory (the `pidfile` option; Redis removes the file when it
 * exits cleanly), so when the process that started it was killed, the server, holding the whole
 * dataset in memory, can still be found. A pid is only a number that the system hands out again, so
 * it is signalled only while it is provably that server: a process named redis-server whose working
 * directory is this directory (Redis changes into its `dir` at start). Anything else is left alone.
 */
import { readFile, readlink, realpath } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The pid file's name in a server's directory (serverConfig in scratch.ts). */
export const PID_FILE = "redis-server.pid";
/** How long a killed server may take to disappear before its directory is removed. */
const EXIT_WAIT_MS = 10_000;

/**
 * Kills the redis-server running in `dir`, if there is one, and waits until it is gone. Resolves
 * false when there was none (no pid file, or its pid is now another process); rejects when the server
 * could not be stopped, so that its directory is kept.
 */
export async function stopOrphanRedis(dir: string): Promise<boolean> {
  const pid = await pidIn(dir);
  if (pid === undefined) return false;
  const home = await realpath(dir);
  if (!(await isRedisIn(pid, home))) return false;
  // SIGKILL: the data is a disposable copy, and a server busy loading a large RDB may not stop on TERM soon.
  process.kill(pid, "SIGKILL");
  const deadline = Date.now() + EXIT_WAIT_MS;
  // Not our child, so no exit event: it is gone once /proc no longer shows it in this directory (a
  // zombie, whose memory is already freed, has no working directory either).
  while (await isRedisIn(pid, home)) {
    if (Date.now() > deadline) throw new Error(`redis-server ${pid} in ${dir} did not stop after SIGKILL`);
    await sleep(50);
  }
  return true;
}

async function pidIn(dir: string): Promise<number | undefined> {
  const text = await readFile(join(dir, PID_FILE), "utf8").catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

/** Whether `pid` is a redis-server whose working directory is `home` (false when it cannot be read). */
async function isRedisIn(pid: number, home: string): Promise<boolean> {
  try {
    const [cwd, comm, cmdline] = await Promise.all([
      readlink(`/proc/${pid}/cwd`),
      readFile(`/proc/${pid}/comm`, "utf8"),
      readFile(`/proc/${pid}/cmdline`, "utf8"),
    ]);
    const argv0 = basename(cmdline.split(/[\0 ]/)[0] ?? "");
    return cwd === home && (comm.trim() === "redis-server" || argv0 === "redis-server");
  } catch {
    return false;
  }
}
