/**
 * Helpers for the database end-to-end tests: the CLI as a process whose descendants we can watch,
 * a view of every process on the machine (what `ps` reads), and content fingerprints of PostgreSQL,
 * MariaDB and Redis databases that do not depend on physical layout.
 */
import { execFile, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { CLI, type CliResult } from "../helpers/cli";
import { mariadb, PG, psql } from "../helpers/db";

const execFileAsync = promisify(execFile);

export interface RunningCli {
  pid: number;
  /** Settles when the CLI has exited and its output is closed. */
  result: Promise<CliResult>;
}

/** Starts the built CLI like `runCli`, but hands back its pid at once so a test can watch it run. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, HAVEN_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  if (child.pid === undefined) throw new Error("the CLI did not start");
  return { pid: child.pid, result };
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  comm: string;
}

/** Every process on the machine with its parent, from /proc/<pid>/stat. */
export async function processTable(): Promise<ProcessInfo[]> {
  const table: ProcessInfo[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // comm is in parentheses and may hold spaces or parentheses: ppid is the 2nd field after the last ")".
      const close = stat.lastIndexOf(")");
      table.push({
        pid: Number(entry),
        comm: stat.slice(stat.indexOf("(") + 1, close),
        ppid: Number(stat.slice(close + 2).split(" ")[1]),
      });
    } catch {
      // The process ended while we looked.
    }
  }
  return table;
}

/** Processes below `root` in the process tree (children, grandchildren, ...). */
export async function descendantsOf(root: number): Promise<ProcessInfo[]> {
  const table = await processTable();
  const below = new Set([root]);
  // Parents may have higher pids than their children after pid wrap-around: iterate to a fixpoint.
  for (let grew = true; grew;) {
    grew = false;
    for (const p of table) {
      if (!below.has(p.pid) && below.has(p.ppid)) {
        below.add(p.pid);
        grew = true;
      }
    }
  }
  return table.filter((p) => p.pid !== root && below.has(p.pid));
}

/** Processes whose command line or environment contains `needle` (as root, every process's). */
export async function processesExposing(needle: string): Promise<Array<{ pid: number; where: string }>> {
  const found: Array<{ pid: number; where: string }> = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    for (const file of ["cmdline", "environ"]) {
      try {
        if ((await readFile(`/proc/${entry}/${file}`)).includes(needle))
          found.push({ pid: Number(entry), where: file });
      } catch {
        // Ended meanwhile, or a kernel thread without one.
      }
    }
  }
  return found;
}

/** A process's arguments joined by spaces, as `ps` shows them; "" once it has ended. */
export async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** Bytes a process has written so far (all file descriptors, pipes included), from /proc/<pid>/io. */
export async function bytesWritten(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, "utf8");
  return Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? 0);
}

/** Polls `check` every 10 ms until it returns a value (a process appearing has no event to wait on). */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every user table of a PostgreSQL database: row count and md5 of its rows in a stable order. */
export async function pgFingerprint(database: string): Promise<string> {
  const tables = (
    await psql(
      database,
      "select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
    )
  )
    .split("\n")
    .filter(Boolean);
  const lines: string[] = [];
  for (const table of tables) {
    const summary = await psql(
      database,
      `select count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from ${table} t`,
    );
    lines.push(`${table} ${summary}`);
  }
  return lines.join("\n");
}

/** `pg_dump --schema-only` text, without the random \restrict keys of recent versions and the db name. */
export async function pgSchemaText(database: string): Promise<string> {
  const { stdout } = await execFileAsync(
    "pg_dump",
    ["-h", PG.host, "-p", String(PG.port), "-U", PG.user, "--schema-only", database],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split("\n")
    .filter((line) => !/^\\(un)?restrict /.test(line))
    .join("\n")
    .split(database)
    .join("<db>");
}

/** Every base table of a MariaDB schema: row count and `CHECKSUM TABLE ... EXTENDED`. */
export async function mariadbChecksums(database: string): Promise<string> {
  const tables = (await mariadb("show full tables where Table_type = 'BASE TABLE'", database))
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split("\t")[0] as string)
    .sort();
  const lines: string[] = [];
  for (const table of tables) {
    const [, checksum] = (await mariadb(`checksum table \`${table}\` extended`, database)).split("\t");
    const count = await mariadb(`select count(*) from \`${table}\``, database);
    lines.push(`${table} ${count} ${checksum}`);
  }
  return lines.join("\n");
}

/** `SHOW CREATE` text of the named views, routines and triggers, with the schema name neutralised. */
export async function mariadbDefinitions(
  database: string,
  objects: { views: string[]; procedures: string[]; triggers: string[] },
): Promise<string> {
  const show = async (sql: string, column: number) =>
    ((await mariadb(sql, database)).split("\t")[column] ?? "").split(database).join("<db>");
  const parts: string[] = [];
  for (const view of objects.views) parts.push(await show(`show create view \`${view}\``, 1));
  for (const procedure of objects.procedures)
    parts.push(await show(`show create procedure \`${procedure}\``, 2));
  for (const trigger of objects.triggers) parts.push(await show(`show create trigger \`${trigger}\``, 2));
  return parts.join("\n");
}

/** Every key of one Redis database with its type, value and whether it expires, by hex key. */
export async function redisContents(
  port: number,
  password: string,
  db: number,
): Promise<Map<string, string>> {
  const redis = new Redis({
    host: "127.0.0.1",
    port,
    password,
    db,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  await redis.connect();
  try {
    const out = new Map<string, string>();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scanBuffer(cursor, "COUNT", 500);
      cursor = String(next);
      for (const key of keys) {
        const ttl = await redis.pttl(key);
        const type = await redis.type(key);
        out.set(
          key.toString("hex"),
          `${type} ${JSON.stringify(await redisValue(redis, key, type))} ttl=${ttl > 0 ? "yes" : ttl}`,
        );
      }
    } while (cursor !== "0");
    return out;
  } finally {
    redis.disconnect();
  }
}

/** A key's value in a form that does not depend on the server's internal encoding or order. */
async function redisValue(redis: Redis, key: Buffer, type: string): Promise<unknown> {
  if (type === "string") return (await redis.getBuffer(key))?.toString("hex");
  if (type === "list") return redis.lrange(key, 0, -1);
  if (type === "set") return (await redis.smembers(key)).sort();
  if (type === "zset") return redis.zrange(key, "0", "-1", "WITHSCORES");
  if (type === "hash") return Object.entries(await redis.hgetall(key)).sort();
  if (type === "stream") return redis.xrange(key, "-", "+");
  throw new Error(`unexpected type ${type}`);
}
