// PostgreSQL backup and restore: Haven against the raw pipeline it wraps, on a generated ~1 GB database.
// Usage: npm run build && node bench/pg.mjs      (runs the built CLI from dist/)
//
//   backup:  pg_dump -Fc -Z0 | zstd -3 -T0 > file        versus  haven backup bench --direct (zstd -3, filesystem)
//   restore: zstd -d < file | pg_restore -d newdb        versus  haven restore bench --to newdb
//
// Each measurement is the median of BENCH_PG_RUNS runs (default 3), raw and Haven interleaved so that
// load from other processes on the machine falls on both alike. Peak RSS is GNU time's %M: the largest
// resident set of any one process of the command's tree (node for Haven; pg_dump or zstd for the raw
// pipeline). Rates are plain dump bytes (pg_dump's output, the same for both) per wall-clock second.
// Targets: Haven backup at least 0.9x the raw pipeline's rate, Haven's peak RSS at most 200 MB.
// The results go to bench/RESULTS-postgres.md; every database the run creates is dropped at the end.
//
// Environment: PGHOST (127.0.0.1), PGPORT (5432), PGUSER (postgres): a server that trusts this user;
// BENCH_PG_ROWS (3000000) rows of the main table, BENCH_PG_DOCS (320000) rows of the text table.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { cpus, hostname, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { idleShare } from "./measure.mjs";

const execFileAsync = promisify(execFile);
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cliPath = join(root, "dist", "cli", "main.js");
const resultsPath = join(root, "bench", "RESULTS-postgres.md");

const PG = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: process.env.PGPORT ?? "5432",
  user: process.env.PGUSER ?? "postgres",
};
const RUNS = Number(process.env.BENCH_PG_RUNS ?? 3);
const ROWS = Number(process.env.BENCH_PG_ROWS ?? 3_000_000);
const DOCS = Number(process.env.BENCH_PG_DOCS ?? 320_000);
const TARGET_RATIO = 0.9;
const TARGET_RSS_MB = 200;
const MB = 1e6;

const suffix = randomBytes(4).toString("hex");
const sourceDb = `haven_bench_${suffix}`;
const created = new Set();

const pgArgs = ["-h", PG.host, "-p", PG.port, "-U", PG.user];

async function psql(database, sql) {
  const { stdout } = await execFileAsync(
    "psql",
    [...pgArgs, "-d", database, "-X", "-v", "ON_ERROR_STOP=1", "-Atq", "-c", sql],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return stdout.trim();
}

async function dropDatabase(name) {
  await psql("postgres", `drop database if exists ${name} with (force)`);
  created.delete(name);
}

/** Runs argv under GNU time: wall seconds, CPU seconds (user + system, whole tree), peak RSS (MB), stdout. */
async function measured(argv, env = {}) {
  const rssFile = join(work, `rss-${randomBytes(4).toString("hex")}`);
  const started = process.hrtime.bigint();
  const child = spawn("/usr/bin/time", ["-f", "%M %U %S", "-o", rssFile, ...argv], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const code = await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${stderr}`);
  const [rssKiB, user, system] = ((await readFile(rssFile, "utf8")).trim().split("\n").at(-1) ?? "")
    .split(" ")
    .map(Number);
  await rm(rssFile, { force: true });
  return { seconds, cpu: user + system, rssMB: (rssKiB * 1024) / MB, stdout };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

async function generate() {
  console.log(`generating ${sourceDb}: ${ROWS} rows + ${DOCS} documents ...`);
  await psql("postgres", `create database ${sourceDb}`);
  created.add(sourceDb);
  const started = Date.now();
  // Mixed content: short keys, numerics, timestamps, hex text (compresses ~2:1), random bytea (does not
  // compress) and prose-like documents (compress well), so the compressor sees realistic variety.
  await psql(
    sourceDb,
    `set synchronous_commit = off;
     create table orders (
       id bigint primary key,
       customer text not null,
       amount numeric(14,2),
       ratio double precision,
       created timestamptz,
       reference text,
       payload bytea
     );
     insert into orders
       select g, 'customer-' || (g % 100000), (g % 1000000) / 7.0, random(),
              '2026-01-01'::timestamptz + g * interval '1 second',
              md5(g::text) || md5((g + 1)::text),
              decode(md5((g * 31)::text) || md5((g * 17)::text), 'hex')
       from generate_series(1, ${ROWS}) g;
     create index orders_customer on orders (customer);
     create table documents (id int primary key, title text, body text);
     insert into documents
       select g, 'document ' || g,
              repeat('The quick brown fox jumps over the lazy dog; invoice ' || g || ' settled. ', 14)
       from generate_series(1, ${DOCS}) g;
     analyze;`,
  );
  const bytes = Number(await psql(sourceDb, "select pg_database_size(current_database())"));
  console.log(`  ${(bytes / MB).toFixed(0)} MB on disk in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bytes;
}

async function configFile(destination) {
  const path = join(work, "haven.yaml");
  await writeFile(
    path,
    [
      "destinations:",
      "  local:",
      "    type: filesystem",
      `    path: ${destination}`,
      "targets:",
      "  bench:",
      "    type: postgres",
      `    host: ${PG.host}`,
      `    port: ${PG.port}`,
      `    user: ${PG.user}`,
      `    database: ${sourceDb}`,
      "    destinations: [local]",
      "    compression: { algorithm: zstd, level: 3 }",
      "",
    ].join("\n"),
  );
  return path;
}

const haven = (...args) => [process.execPath, cliPath, "-c", config, ...args];

async function rawBackup(file) {
  const script = `set -o pipefail; pg_dump -Fc -Z0 -h ${PG.host} -p ${PG.port} -U ${PG.user} ${sourceDb} | zstd -3 -T0 -q > ${file}`;
  const result = await measured(["bash", "-c", script]);
  return { ...result, stored: (await stat(file)).size, command: script.replace(/^set -o pipefail; /, "") };
}

async function havenBackup() {
  await rm(destination, { recursive: true, force: true });
  await mkdir(destination, { recursive: true }); // the destination's root: Haven never creates it
  const result = await measured(haven("backup", "bench", "--direct", "-o", "json"));
  const outcome = JSON.parse(result.stdout);
  if (outcome.state !== "committed") throw new Error(`haven backup: ${result.stdout}`);
  return { ...result, plain: outcome.plainBytes, stored: outcome.storedBytes };
}

async function rawRestore(file) {
  const db = `haven_bench_${suffix}_raw`;
  await psql("postgres", `create database ${db} template template0`);
  created.add(db);
  const script = `set -o pipefail; zstd -d -q < ${file} | pg_restore -h ${PG.host} -p ${PG.port} -U ${PG.user} --exit-on-error -d ${db}`;
  const result = await measured(["bash", "-c", script]);
  await dropDatabase(db);
  return result;
}

async function havenRestore() {
  const db = `haven_bench_${suffix}_hv`;
  created.add(db);
  const result = await measured(haven("restore", "bench", "--to", db));
  await dropDatabase(db);
  return result;
}

const loadNow = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

async function machine() {
  const version = async (cmd, args) => (await execFileAsync(cmd, args)).stdout.trim().split("\n")[0];
  return {
    host: hostname(),
    cpu: `${cpus()[0]?.model ?? "?"} x ${cpus().length}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    node: process.version,
    server: (await psql("postgres", "select version()")).split(" on ")[0],
    pgDump: await version("pg_dump", ["--version"]),
    zstd: (await version("zstd", ["--version"])).replace(/\*/g, "").trim(),
    load: loadNow(),
    idle: await idleShare(),
  };
}

function report({ info, dbBytes, backups, restores, commands }) {
  const plain = backups.haven[0].plain;
  const rate = (seconds) => plain / MB / seconds;
  const raw = median(backups.raw.map((r) => r.seconds));
  const hv = median(backups.haven.map((r) => r.seconds));
  const ratio = raw / hv;
  const rawRss = Math.max(...backups.raw.map((r) => r.rssMB));
  const hvRss = Math.max(...backups.haven.map((r) => r.rssMB));
  const rawRestoreS = median(restores.raw.map((r) => r.seconds));
  const hvRestoreS = median(restores.haven.map((r) => r.seconds));
  const hvRestoreRss = Math.max(...restores.haven.map((r) => r.rssMB));
  const cpu = (runs) => median(runs.map((r) => r.cpu));
  const verdict = (ok) => (ok ? "**pass**" : "**FAIL**");
  const seconds = (runs) => runs.map((r) => `${r.seconds.toFixed(1)}/${r.cpu.toFixed(1)}`).join(", ");
  const lines = [
    "# PostgreSQL backup and restore: Haven against the raw pipeline",
    "",
    `Generated by \`node bench/pg.mjs\` on ${new Date().toISOString()}.`,
    "",
    "## Machine",
    "",
    `- ${info.cpu}, ${info.memory} RAM, host ${info.host}; load average ${info.load} at start, ${loadNow()} at the end; ${(info.idle * 100).toFixed(0)} % of the CPU idle in the 2 s before the run (other work during the run slows both columns; the interleaved medians and CPU seconds are the figures to compare)`,
    `- ${info.server}; ${info.pgDump}; ${info.zstd}; Node ${info.node}`,
    `- source database: ${(dbBytes / MB).toFixed(0)} MB on disk (${ROWS} rows of mixed text, numeric, timestamp and bytea, an index, ${DOCS} prose documents); pg_dump -Fc -Z0 output ${(plain / MB).toFixed(0)} MB`,
    "",
    "## Commands",
    "",
    "```sh",
    `# raw backup`,
    commands.rawBackup,
    `# Haven backup (filesystem destination on the same disk, zstd level 3, default rowCounts: exact)`,
    commands.havenBackup,
    `# raw restore (into a database created from template0)`,
    commands.rawRestore,
    `# Haven restore (creates the database)`,
    commands.havenRestore,
    "```",
    "",
    `## Results (median of ${RUNS}, raw and Haven interleaved)`,
    "",
    "| measure | raw pipeline | Haven | Haven / raw | target | verdict |",
    "|---|---|---|---|---|---|",
    `| backup time (s) | ${raw.toFixed(1)} | ${hv.toFixed(1)} | | | |`,
    `| backup rate (MB/s of dump) | ${rate(raw).toFixed(1)} | ${rate(hv).toFixed(1)} | ${ratio.toFixed(2)} | ≥ ${TARGET_RATIO} | ${verdict(ratio >= TARGET_RATIO)} |`,
    `| backup peak RSS (MB, largest process) | ${rawRss.toFixed(0)} | ${hvRss.toFixed(0)} | | ≤ ${TARGET_RSS_MB} | ${verdict(hvRss <= TARGET_RSS_MB)} |`,
    `| stored size (MB) | ${(backups.raw[0].stored / MB).toFixed(0)} | ${(backups.haven[0].stored / MB).toFixed(0)} | | | |`,
    `| backup CPU (s, user + system of the command's processes) | ${cpu(backups.raw).toFixed(1)} | ${cpu(backups.haven).toFixed(1)} | ${(cpu(backups.haven) / cpu(backups.raw)).toFixed(2)} (CPU) | | |`,
    `| restore time (s) | ${rawRestoreS.toFixed(1)} | ${hvRestoreS.toFixed(1)} | ${(hvRestoreS / rawRestoreS).toFixed(2)} (time) | | |`,
    `| restore CPU (s, user + system of the command's processes) | ${cpu(restores.raw).toFixed(1)} | ${cpu(restores.haven).toFixed(1)} | ${(cpu(restores.haven) / cpu(restores.raw)).toFixed(2)} (CPU) | | |`,
    `| restore peak RSS (MB, largest process) | ${Math.max(...restores.raw.map((r) => r.rssMB)).toFixed(0)} | ${hvRestoreRss.toFixed(0)} | | | |`,
    "",
    "Every run (wall seconds / CPU seconds):",
    "",
    `- raw backup: ${seconds(backups.raw)}; Haven backup: ${seconds(backups.haven)}`,
    `- raw restore: ${seconds(restores.raw)}; Haven restore: ${seconds(restores.haven)}`,
    "",
    "Notes: Haven's backup also counts every table's rows in the dump's snapshot (for the manifest), hashes the",
    "plain and the stored bytes (sha256), and fsyncs the stored object before renaming it into place; the raw",
    "pipeline does none of that. pg_restore reading a pipe cannot use --jobs, in both columns.",
    "",
  ];
  return { text: lines.join("\n"), pass: ratio >= TARGET_RATIO && hvRss <= TARGET_RSS_MB };
}

/** A hand-written "## Analysis" section of the previous results survives a re-run. */
async function keptAnalysis() {
  const previous = existsSync(resultsPath) ? await readFile(resultsPath, "utf8") : "";
  const at = previous.indexOf("\n## Analysis");
  return at < 0 ? "" : previous.slice(at);
}

if (!existsSync(cliPath)) {
  console.error("dist/cli/main.js is missing: run `npm run build` first");
  process.exit(2);
}
if (!existsSync("/usr/bin/time")) {
  console.error("GNU time is missing: apt-get install time");
  process.exit(2);
}

const work = await mkdtemp(join(tmpdir(), "haven-bench-pg-"));
const destination = join(work, "destination");
const config = await configFile(destination);
try {
  const info = await machine();
  const dbBytes = await generate();
  const rawFile = join(work, "raw.pgdump.zst");
  const backups = { raw: [], haven: [] };
  for (let i = 1; i <= RUNS; i++) {
    const raw = await rawBackup(rawFile);
    backups.raw.push(raw);
    const hv = await havenBackup();
    backups.haven.push(hv);
    console.log(
      `backup run ${i}: raw ${raw.seconds.toFixed(1)} s (${raw.cpu.toFixed(1)} s CPU, ${raw.rssMB.toFixed(0)} MB), haven ${hv.seconds.toFixed(1)} s (${hv.cpu.toFixed(1)} s CPU, ${hv.rssMB.toFixed(0)} MB), dump ${(hv.plain / MB).toFixed(0)} MB`,
    );
  }
  const restores = { raw: [], haven: [] };
  for (let i = 1; i <= RUNS; i++) {
    const raw = await rawRestore(rawFile);
    restores.raw.push(raw);
    const hv = await havenRestore();
    restores.haven.push(hv);
    console.log(
      `restore run ${i}: raw ${raw.seconds.toFixed(1)} s, haven ${hv.seconds.toFixed(1)} s (${hv.rssMB.toFixed(0)} MB)`,
    );
  }
  const commands = {
    rawBackup: backups.raw[0].command.replaceAll(sourceDb, "<db>").replaceAll(rawFile, "file"),
    havenBackup: "haven -c haven.yaml backup bench --direct",
    rawRestore: `zstd -d < file | pg_restore -h ${PG.host} -p ${PG.port} -U ${PG.user} --exit-on-error -d <newdb>`,
    havenRestore: "haven -c haven.yaml restore bench --to <newdb>",
  };
  const { text, pass } = report({ info, dbBytes, backups, restores, commands });
  await writeFile(resultsPath, text + (await keptAnalysis()));
  console.log(`\n${text}`);
  console.log(pass ? "PASS" : "FAIL");
  process.exitCode = pass ? 0 : 1;
} finally {
  for (const db of [...created])
    await dropDatabase(db).catch((e) => console.error(`could not drop ${db}: ${e.message}`));
  await rm(work, { recursive: true, force: true });
}
