/**
 * Test helpers for database targets: unique names, SQL through the real clients, private servers
 * (a scratch PostgreSQL cluster with password authentication, since the shared one trusts 127.0.0.1),
 * the children of this process (for `ps`-style assertions), and a RunContext that records warnings.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { chmod, chown, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { promisify } from "node:util";
import pino, { type Logger } from "pino";
import type { TargetConfigOf } from "../../src/config/types";
import { Secret } from "../../src/lib/secret";
import type { RestoreStats, RunContext, TargetAdapter } from "../../src/targets/types";

const execFileAsync = promisify(execFile);

export const PG = { host: "127.0.0.1", port: 5432, user: "postgres" } as const;
export const MARIADB = { host: "127.0.0.1", port: 3306, user: "root" } as const;

/** `prefix_1a2b3c4d`: lower case, safe as an unquoted identifier. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

/** Runs SQL through psql (ON_ERROR_STOP) on the shared server and returns unaligned, tuples-only output. */
export async function psql(
  database: string,
  sql: string,
  port: number = PG.port,
  password?: string,
): Promise<string> {
  return runWithInput(
    "psql",
    [
      "-h",
      PG.host,
      "-p",
      String(port),
      "-U",
      PG.user,
      "-d",
      database,
      "-X",
      "-v",
      "ON_ERROR_STOP=1",
      "-At",
      "-q",
    ],
    sql,
    password ? { PGPASSWORD: password } : {},
  );
}

/** The mariadb client's arguments for the shared server as root: batch output without column names. */
export function mariadbArgs(database?: string): string[] {
  const args = ["-h", MARIADB.host, "-P", String(MARIADB.port), "-u", MARIADB.user, "-N", "-B"];
  return database ? [...args, database] : args;
}

/** Runs SQL through the mariadb client as root; batch output without column names. */
export async function mariadb(sql: string, database?: string): Promise<string> {
  return runWithInput(
    "mariadb",
    [...mariadbArgs(), "--default-character-set=utf8mb4", ...(database ? [database] : [])],
    sql,
  );
}

/**
 * Starts a restore into database `name` (forced) and waits until its run logs a line containing
 * `text`; returns that line, whether the restore had settled by then, and the restore itself.
 */
export async function restoreUntilLogged(
  adapter: TargetAdapter,
  dump: Buffer,
  name: string,
  text: string,
): Promise<{ line: string; settledFirst: boolean; restored: Promise<RestoreStats> }> {
  const run = testRun();
  const restored = adapter.restore(Readable.from([dump]), { kind: "database", name }, run, { force: true });
  let settled = false;
  void restored.finally(() => (settled = true)).catch(() => undefined);
  await waitUntil(() => run.logText().includes(text), 20_000);
  const line = run
    .logText()
    .split("\n")
    .find((logged) => logged.includes(text)) as string;
  return { line, settledFirst: settled, restored };
}

/** Resolves once `condition` holds, looking every 50 ms; rejects after `timeoutMs`. */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`the condition did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function runWithInput(
  command: string,
  args: string[],
  input: string,
  env: Record<string, string> = {},
): Promise<string> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => err.push(c));
  // A command that exits without reading its input is judged by its exit status, not by EPIPE.
  child.stdin.on("error", () => undefined);
  child.stdin.end(input);
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`${command} failed (${code}): ${Buffer.concat(err).toString()}`);
  return Buffer.concat(out).toString().trim();
}

/** Reads a whole stream (tests only: small payloads or deliberate). */
/** The first half of `bytes` in 64 KiB chunks, then an error: an input lost half way (a reset connection). */
export function cutShort(bytes: Buffer): Readable {
  function* chunks() {
    const half = Math.floor(bytes.length / 2);
    for (let at = 0; at < half; at += 65536) yield bytes.subarray(at, Math.min(half, at + 65536));
    throw new Error("connection reset by the destination");
  }
  return Readable.from(chunks());
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; the caller binds it right away). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export interface ChildInfo {
  pid: number;
  comm: string;
  /** Arguments as `ps` shows them. */
  cmdline: string;
  /** The environment (readable by the same user only). */
  environ: string;
}

/** Processes whose parent is `parentPid`, read from /proc (what `ps` reads). */
export async function childrenOf(parentPid: number = process.pid): Promise<ChildInfo[]> {
  const found: ChildInfo[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // The comm field is in parentheses and may contain spaces; ppid is the second field after it.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (ppid !== parentPid) continue;
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").join(" ");
      const environ = (await readFile(`/proc/${entry}/environ`, "utf8")).split("\0").join("\n");
      found.push({ pid: Number(entry), comm, cmdline, environ });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** Waits until a child named `comm` of this process exists (polling /proc: there is no event for it). */
export async function waitForChild(comm: string, timeoutMs = 20_000): Promise<ChildInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const child = (await childrenOf()).find((c) => c.comm === comm);
    if (child) return child;
    if (Date.now() > deadline) throw new Error(`no child process ${comm} appeared`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface TestRun extends RunContext {
  warnings: string[];
  /** Every log line written through `logger`, as text. */
  logText(): string;
}

/** A RunContext whose logger records every line (so tests can assert that no secret was logged). */
export function testRun(signal: AbortSignal = new AbortController().signal): TestRun {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger: Logger = pino({ level: "debug" }, sink);
  const warnings: string[] = [];
  return {
    signal,
    logger,
    warnings,
    warn(message, detail) {
      warnings.push(message);
      logger.warn(detail ?? {}, message);
    },
    logText: () => lines.join(""),
  };
}

export interface ScratchPostgres {
  port: number;
  password: string;
  /** With `tls` or `tlsOnly`: the CA that signed the server's certificate (for 127.0.0.1). */
  caFile?: string;
  /** With `clientCertificates`: a certificate of user postgres that database `app` requires. */
  clientCertFile?: string;
  clientKeyFile?: string;
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL cluster with scram-sha-256 password authentication on a free port, for tests
 * that need a login to fail (the shared server trusts 127.0.0.1). Runs as the `postgres` OS user
 * when the tests run as root (the server refuses root).
 */
export async function startScratchPostgres(
  options: { tls?: boolean; tlsOnly?: boolean; clientCertificates?: boolean } = {},
): Promise<ScratchPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "haven-scratch-pg-"));
  const password = `pw-${randomBytes(6).toString("hex")}:x\\y`;
  const asRoot = userInfo().uid === 0;
  const run = async (command: string, args: string[]) => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
    await execFileAsync(file, argv, { cwd: dir });
  };
  await writeFile(join(dir, "pw"), `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const { stdout } = await execFileAsync("id", ["-u", "postgres"]);
    const { stdout: gid } = await execFileAsync("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout), Number(gid));
    await chown(join(dir, "pw"), Number(stdout), Number(gid));
  }
  const data = join(dir, "data");
  await run("initdb", [
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "scram-sha-256",
    `--pwfile=${join(dir, "pw")}`,
    "--no-sync",
  ]);
  const port = await freePort();
  const tls =
    options.tls || options.tlsOnly || options.clientCertificates ? await serverCertificate(dir) : undefined;
  if (tls && asRoot) {
    const { stdout } = await execFileAsync("id", ["-u", "postgres"]);
    for (const file of [tls.certFile, tls.keyFile]) await chown(file, Number(stdout), 0);
  }
  let tlsOptions = tls ? ` -c ssl=on -c ssl_cert_file=${tls.certFile} -c ssl_key_file=${tls.keyFile}` : "";
  if (options.tlsOnly) {
    // As a cloud service that forces TLS: no entry lets a plain TCP connection in.
    await writeFile(join(dir, "hba.conf"), "hostssl all all 127.0.0.1/32 scram-sha-256\n");
    tlsOptions += ` -c hba_file=${join(dir, "hba.conf")}`;
  }
  const client =
    options.clientCertificates && tls ? await signedCertificate(dir, "client", "postgres", tls) : undefined;
  if (client && tls) {
    // Database app takes postgres by its client certificate only; the rest by password (setup).
    const hba = "hostssl app postgres 127.0.0.1/32 cert\nhost all all 127.0.0.1/32 scram-sha-256\n";
    await writeFile(join(dir, "hba.conf"), hba);
    tlsOptions += ` -c hba_file=${join(dir, "hba.conf")} -c ssl_ca_file=${tls.caFile}`;
  }
  await run("pg_ctl", [
    "-D",
    data,
    "-w",
    "-l",
    join(dir, "log"),
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${tlsOptions}`,
    "start",
  ]);
  return {
    port,
    password,
    caFile: tls?.caFile,
    clientCertFile: client?.certFile,
    clientKeyFile: client?.keyFile,
    async stop() {
      await run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway CA and a server certificate it signed for 127.0.0.1, in `dir`. */
async function serverCertificate(
  dir: string,
): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caFile = join(dir, "ca.crt");
  await execFileAsync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=haven test CA"].concat([
      "-keyout",
      join(dir, "ca.key"),
      "-out",
      caFile,
    ]),
    { cwd: dir },
  );
  return { caFile, ...(await signedCertificate(dir, "server", "127.0.0.1", { caFile })) };
}

/** A key and a certificate for `commonName` (also its IP SAN for 127.0.0.1), signed by the CA in `dir`. */
async function signedCertificate(
  dir: string,
  name: string,
  commonName: string,
  ca: { caFile: string },
): Promise<{ certFile: string; keyFile: string }> {
  const [certFile, keyFile, csr, ext] = ["crt", "key", "csr", "ext"].map((suffix) =>
    join(dir, `${name}.${suffix}`),
  ) as [string, string, string, string];
  const openssl = (...args: string[]) => execFileAsync("openssl", args, { cwd: dir });
  await openssl(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${commonName}`,
    "-keyout",
    keyFile,
    "-out",
    csr,
  );
  await writeFile(ext, "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    ...["x509", "-req", "-in", csr, "-CA", ca.caFile, "-CAkey", join(dir, "ca.key"), "-CAcreateserial"],
    ...["-days", "2", "-extfile", ext, "-out", certFile],
  );
  await chmod(keyFile, 0o600);
  return { certFile, keyFile };
}

/** The keys every resolved target config has, with test values (spread into a target's own keys). */
export function commonTargetFields(name: string) {
  return {
    name,
    schedule: {},
    destinations: ["local"],
    retention: {},
    rpo: 86_400_000,
    rto: 14_400_000,
    compression: { algorithm: "zstd" as const, level: 3 },
    verify: { schedule: "0 6 * * 6", kind: "restore" as const, sample: 100, checks: [] },
    protected: false,
  };
}

/** A postgres target on a scratch cluster (database `app`, logging in as postgres with its password). */
export function scratchPgTarget(
  name: string,
  server: ScratchPostgres,
  overrides: Partial<TargetConfigOf<"postgres">> = {},
): TargetConfigOf<"postgres"> {
  return sharedPgTarget(name, "app", {
    port: server.port,
    password: new Secret(server.password),
    ...overrides,
  });
}

/** A postgres target on the shared server, as the postgres adapter tests use it. */
export function sharedPgTarget(
  name: string,
  database: string,
  overrides: Partial<TargetConfigOf<"postgres">> = {},
): TargetConfigOf<"postgres"> {
  return {
    ...commonTargetFields(name),
    type: "postgres",
    host: PG.host,
    port: PG.port,
    user: PG.user,
    database,
    globals: false,
    rowCounts: "exact",
    ...overrides,
  };
}
