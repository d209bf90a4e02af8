// `npm run bench`: Haven's file-share backup and restore against `tar | zstd`, archiver and restic on
// the same generated tree (Haven issue 2, "Benchmark"). Prints a Markdown report and writes it into
// bench/RESULTS.md between the generated-section markers (text outside them is kept).
//
//   node bench/run.mjs            full run: ~1.3 GB tree, 3 repetitions, then ~4 GB, 1 repetition
//   node bench/run.mjs --quick    smoke run: ~190 MB tree, 1 repetition; report in bench/data/RESULTS-quick.md
//   options: --reps N, --skip-large (no 4 GB step), --no-profile, --keep-work (keep outputs for inspection)
//
// Needs: `npm run build` (dist/), GNU time (/usr/bin/time), tar, zstd, openssl; restic for its rows.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, stat, statfs, writeFile } from "node:fs/promises";
import { cpus, totalmem, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { ensureTree } from "./generate-tree.mjs";
import { idleShare, measure } from "./measure.mjs";
import { profileMarkdown, summarizeProfile } from "./profile.mjs";
import { renderReport, writeResults } from "./report.mjs";
import { selfSignedCert, startServices } from "./services.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH, "..");
const DATA = join(BENCH, "data");
const WORK = join(DATA, "work");
const CLI = join(ROOT, "dist", "cli", "main.js");
const SEED = 20261122;

const { values: opts } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    reps: { type: "string" },
    "skip-large": { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    "keep-work": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (opts.help) {
  console.log(
    "usage: node bench/run.mjs [--quick] [--reps N] [--skip-large] [--no-profile] [--keep-work]\n" +
      "see the comment at the top of bench/run.mjs",
  );
  process.exit(0);
}

/** The trees: `base` is the ~1 GB share of the issue; `large` adds big files to reach ~4 GB. */
const SHAPES = opts.quick
  ? {
      base: { seed: SEED, smallFiles: 2000, largeFiles: 2 },
      extra: { seed: SEED + 1, smallFiles: 0, largeFiles: 6, largeDir: "extra" },
      reps: 1,
    }
  : {
      base: { seed: SEED, smallFiles: 20000, largeFiles: 20 },
      extra: { seed: SEED + 1, smallFiles: 0, largeFiles: 88, largeDir: "extra" },
      reps: 3,
    };
const reps = Number(opts.reps ?? SHAPES.reps);
const RESTIC_ENV = {
  ...process.env,
  // A fixed benchmark password for throwaway repositories, not a secret.
  RESTIC_PASSWORD: "haven-bench",
  AWS_ACCESS_KEY_ID: "S3RVER",
  AWS_SECRET_ACCESS_KEY: "S3RVER",
};

const log = (message) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
const tool = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return null;
  }
};

function preflight() {
  const missing = [];
  if (!existsSync(CLI)) missing.push("dist/ (run `npm run build`, or use `npm run bench`)");
  if (!existsSync("/usr/bin/time")) missing.push("GNU time (apt-get install -y time)");
  for (const [cmd, args] of [
    ["tar", ["--version"]],
    ["zstd", ["--version"]],
    ["openssl", ["version"]],
  ])
    if (tool(cmd, args) === null) missing.push(cmd);
  if (missing.length > 0) {
    console.error(`bench: missing ${missing.join(", ")}`);
    process.exit(2);
  }
  const restic = tool("restic", ["version"]);
  if (restic === null) log("restic not found (apt-get install -y restic): its rows are left out");
  return {
    restic,
    tar: tool("tar", ["--version"])?.split("\n")[0],
    zstd: tool("zstd", ["--version"]),
  };
}

/** Regular files and their bytes under `dir` (checks each restore brought everything back). */
async function treeTotals(dir) {
  let files = 0;
  let bytes = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop();
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile()) {
        files++;
        bytes += (await stat(path)).size;
      }
    }
  }
  return { files, bytes };
}

async function sizeOf(path) {
  const info = await stat(path).catch(() => null);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await sizeOf(join(path, entry));
  return total;
}

/** Reads a tree once so every tool starts with it in the page cache (the machine has the RAM). */
async function warm(tree) {
  execFileSync("sh", ["-c", `tar cf - -C '${tree.root}' . | cat > /dev/null`]);
}

/** Writes a one-target Haven config (zstd -1, as the baseline) for `destination`; returns its path. */
async function havenConfig(name, tree, destination, encryption) {
  const file = join(WORK, `${name}.yaml`);
  await writeFile(
    file,
    stringify({
      ...(encryption ? { encryption } : {}),
      destinations: { bench: destination },
      targets: {
        share: {
          type: "files",
          path: tree.root,
          destinations: ["bench"],
          compression: { algorithm: "zstd", level: 1 },
        },
      },
    }),
  );
  return file;
}

function s3Destination(server, bucket) {
  return {
    type: "s3",
    bucket,
    endpoint: server.endpoint,
    accessKeyId: server.accessKeyId ?? "null",
    // s3rver's fixed development credentials (the null endpoint checks none): not secrets.
    secretAccessKey: server.secretAccessKey ?? "null",
  };
}

/** Collects measurements per scenario id ("haven-fs", "haven-fs@4g", ...). */
class Results {
  runs = new Map();
  add(id, run) {
    if (!this.runs.has(id)) this.runs.set(id, []);
    this.runs.get(id).push(run);
  }
}

function createRunner({ results, tls, services, keepRestores }) {
  let bucketSeq = 0;
  const newBucket = (what) => `bench-${what}-${process.pid}-${++bucketSeq}`;

  /** Runs and records one measured command; `check` runs afterwards, untimed. */
  async function record(id, tree, argv, { env, cwd, check, stdoutFile, outBytes, fromStderr } = {}) {
    const stderrFile = join(WORK, `${id.replace(/[^a-z0-9@-]/gi, "_")}.stderr`);
    // Every command starts with no dirty pages: otherwise the kernel's writeback of what earlier
    // commands wrote (restored trees stay until the end) lands on whichever command runs next.
    execFileSync("sync");
    const run = await measure(argv, { env, cwd, stderrFile, stdoutFile });
    const mbps = tree.bytes / 1e6 / run.seconds;
    if (check) await check();
    const out = outBytes ? await outBytes() : undefined;
    const extra = fromStderr ? await fromStderr(stderrFile) : {};
    results.add(id, { ...run, mbps, outBytes: out, ...extra });
    log(
      `  ${id.padEnd(24)} ${run.seconds.toFixed(1).padStart(6)} s ${mbps.toFixed(0).padStart(5)} MB/s ` +
        `cpu ${run.cpuSeconds.toFixed(1)} s, tree RSS ${(run.treePeakKiB / 1024).toFixed(0)} MiB`,
    );
  }

  async function expectRestored(dir, tree) {
    const got = await treeTotals(dir);
    if (got.files !== tree.files || got.bytes !== tree.bytes) {
      throw new Error(
        `restore into ${dir} brought back ${got.files} files / ${got.bytes} bytes, expected ${tree.files} / ${tree.bytes}`,
      );
    }
  }

  let restores = 0;
  /** A new directory for each restore: restored trees are removed at the end (see keepRestores). */
  const restoreDir = (id) => join(WORK, "restored", `${id}-${++restores}`);
  const retire = (dir) => (keepRestores ? undefined : rm(dir, { recursive: true, force: true }));

  /** Haven's CLI at `level`: warn, or debug where the S3 backend's "put done" line (commit time) is wanted. */
  const havenAt =
    (level) =>
    (cfg, ...args) => [process.execPath, CLI, "-c", cfg, "--log-level", level, ...args];
  const haven = havenAt("warn");
  /** Seconds the destination spent committing multipart uploads (CompleteMultipartUpload), from the log. */
  const commitSecondsFrom = async (stderrFile) => {
    let ms = 0;
    for (const line of (await readFile(stderrFile, "utf8")).split("\n")) {
      if (!line.includes('"put done"')) continue;
      ms += JSON.parse(line).commitMs ?? 0;
    }
    return { commitSeconds: ms / 1000 };
  };
  const havenEnv = { ...process.env, NODE_EXTRA_CA_CERTS: tls.cert };

  /** Parses `haven backup -o json` output: the stored size. */
  const storedBytesFrom = (file) => async () => JSON.parse(await readFile(file, "utf8")).storedBytes;

  /** Haven backup (and optionally restore) to one destination, then everything removed. */
  async function havenCase(suffix, tree, kind, { restore }) {
    const id = `haven-${kind}${suffix}`;
    let destination;
    let dispose = async () => undefined;
    let encryption;
    if (kind === "fs-age") {
      // A throwaway identity made for this run (not a secret): the payload is encrypted to it.
      const identityFile = join(WORK, "bench-identity.txt");
      const generated = execFileSync(process.execPath, [CLI, "keys", "generate"], { encoding: "utf8" });
      await writeFile(identityFile, generated, { mode: 0o600 });
      encryption = { recipients: [generated.match(/public key: (age1\w+)/)[1]], identityFile };
    }
    if (kind === "fs" || kind === "fs-age") {
      const path = join(WORK, `haven-${kind}${suffix}`);
      await mkdir(path, { recursive: true }); // the destination's root: Haven never creates it
      destination = { type: "filesystem", path };
      dispose = () => rm(path, { recursive: true, force: true });
    } else {
      const server = kind === "s3rver-https" ? services.https : kind === "s3rver-http" ? services.http : null;
      const bucket = newBucket(kind);
      if (server) {
        await services.createBucket(server, bucket);
        destination = s3Destination(server, bucket);
        dispose = () => services.removeBucket(server, bucket);
      } else destination = s3Destination(services.nullS3, bucket);
    }
    const cfg = await havenConfig(id, tree, destination, encryption);
    const json = join(WORK, `${id}.json`);
    try {
      const s3rver = kind.startsWith("s3rver");
      await record(
        id,
        tree,
        havenAt(s3rver ? "debug" : "warn")(cfg, "backup", "share", "--direct", "-o", "json"),
        {
          env: havenEnv,
          stdoutFile: json,
          outBytes: storedBytesFrom(json),
          fromStderr: s3rver ? commitSecondsFrom : undefined,
        },
      );
      if (restore) {
        const to = restoreDir(id);
        await record(
          `haven-restore-${kind}${suffix}`,
          tree,
          haven(cfg, "restore", "share", "--to", to, "--direct"),
          {
            env: havenEnv,
            check: () => expectRestored(to, tree),
          },
        );
        await retire(to);
      }
    } finally {
      await dispose();
    }
  }

  async function resticCase(tree, kind) {
    const cache = join(WORK, "restic-cache");
    let repo;
    let dispose;
    let extra = [];
    if (kind === "local") {
      repo = join(WORK, "restic-repo");
      dispose = () => rm(repo, { recursive: true, force: true });
    } else {
      const bucket = newBucket("restic");
      repo = `s3:${services.https.endpoint}/${bucket}`;
      extra = ["--cacert", tls.cert];
      dispose = () => services.removeBucket(services.https, bucket);
    }
    const restic = (...args) => ["restic", "-r", repo, "--cache-dir", cache, ...extra, ...args];
    try {
      const [cmd, ...args] = restic("init", "--repository-version", "2", "-q");
      execFileSync(cmd, args, { env: RESTIC_ENV, stdio: ["ignore", "ignore", "pipe"] });
      const repoBytes =
        kind === "local"
          ? () => sizeOf(repo)
          : () => sizeOf(join(services.https.directory, repo.split("/").at(-1)));
      await record(`restic-${kind}`, tree, restic("backup", ".", "--host", "bench", "-q"), {
        env: RESTIC_ENV,
        cwd: tree.root,
        outBytes: repoBytes,
      });
      const to = restoreDir(`restic-${kind}`);
      await record(`restic-restore-${kind}`, tree, restic("restore", "latest", "--target", to, "-q"), {
        env: RESTIC_ENV,
        check: () => expectRestored(to, tree),
      });
      await retire(to);
    } finally {
      await dispose();
      await rm(cache, { recursive: true, force: true });
    }
  }

  async function shellCase(id, tree, script, out, { keepOut = false } = {}) {
    await record(id, tree, ["sh", "-c", script], { outBytes: out ? () => sizeOf(out) : undefined });
    if (out && !keepOut) await rm(out, { force: true });
  }

  /** `zstd -d | tar x` of the baseline's archive: what extracting this tree costs any tool here. */
  async function tarRestoreCase(tree, archive) {
    const to = restoreDir("tar-zstd");
    await mkdir(to, { recursive: true });
    await record("tar-zstd-restore", tree, ["sh", "-c", `zstd -d -c -q '${archive}' | tar xf - -C '${to}'`], {
      check: () => expectRestored(to, tree),
    });
    await retire(to);
  }

  return {
    record,
    havenCase,
    resticCase,
    shellCase,
    tarRestoreCase,
    restoreDir,
    retire,
    haven,
    havenEnv,
    newBucket,
  };
}

/**
 * One repetition of every 1 GB scenario, baselines first. The extras (archiver, Haven's tar alone,
 * Haven to s3rver over plain HTTP) explain the main figures and run in the first round only, to keep
 * the full run well under 30 minutes.
 */
async function baseRound(runner, tree, withRestic, withExtras) {
  const out = join(WORK, "out.tar.zst");
  const dir = `'${tree.root}'`;
  await runner.shellCase("tar-zstd", tree, `tar cf - -C ${dir} . | zstd -1 -T0 -q > '${out}'`, out, {
    keepOut: true,
  });
  await runner.tarRestoreCase(tree, out);
  await rm(out, { force: true });
  if (withExtras) await extras(runner, tree, out);
  await runner.havenCase("", tree, "fs", { restore: true });
  await runner.havenCase("", tree, "fs-age", { restore: true });
  await runner.havenCase("", tree, "s3rver-https", { restore: true });
  await runner.havenCase("", tree, "null", { restore: false });
  if (withRestic) {
    await runner.resticCase(tree, "local");
    await runner.resticCase(tree, "s3rver-https");
  }
}

async function extras(runner, tree, out) {
  const dir = `'${tree.root}'`;
  await runner.shellCase("archiver", tree, `node '${join(BENCH, "archiver-tar.mjs")}' ${dir} > /dev/null`);
  await runner.shellCase(
    "archiver-zstd",
    tree,
    `node '${join(BENCH, "archiver-tar.mjs")}' ${dir} | zstd -1 -T0 -q > '${out}'`,
    out,
  );
  await runner.shellCase(
    "haven-tar",
    tree,
    `node '${join(BENCH, "haven-tar.mjs")}' ${dir} 2>/dev/null > /dev/null`,
  );
  await runner.havenCase("", tree, "s3rver-http", { restore: false });
}

/** CPU profiles of one backup (fs and null endpoint) and one restore; not timed. */
async function profiles(runner, tree, services) {
  const dir = join(DATA, "profiles");
  await rm(dir, { recursive: true, force: true });
  const sections = [];
  const profiled = async (title, name, cfgDest, restore) => {
    const cfg = await havenConfig(`profile-${name}`, tree, cfgDest);
    const profDir = join(dir, name);
    const args = runner.haven(cfg, "backup", "share", "--direct").slice(1);
    const node = [process.execPath, "--cpu-prof", "--cpu-prof-dir", profDir];
    await measure([...node, ...args], { env: runner.havenEnv });
    if (restore) {
      const to = runner.restoreDir("profile");
      await measure(
        [
          ...node,
          "--cpu-prof-dir",
          `${profDir}-restore`,
          ...runner.haven(cfg, "restore", "share", "--to", to, "--direct").slice(1),
        ],
        {
          env: runner.havenEnv,
        },
      );
      await runner.retire(to);
    }
    for (const [suffix, label] of [["", title], ...(restore ? [["-restore", restore]] : [])]) {
      const files = await readdir(`${profDir}${suffix}`);
      const file = join(`${profDir}${suffix}`, files[0]);
      sections.push(profileMarkdown(`${label} (\`${file.slice(ROOT.length + 1)}\`)`, summarizeProfile(file)));
    }
  };
  log("profiling (node --cpu-prof; not timed)");
  const fsPath = join(WORK, "haven-fs-profile");
  await mkdir(fsPath, { recursive: true }); // the destination's root: Haven never creates it
  await profiled(
    "backup to the filesystem destination",
    "backup-fs",
    { type: "filesystem", path: fsPath },
    "restore from the filesystem destination",
  );
  await rm(fsPath, { recursive: true, force: true });
  await profiled(
    "backup to the do-nothing S3 endpoint",
    "backup-null",
    s3Destination(services.nullS3, runner.newBucket("profile")),
  );
  return sections.join("\n");
}

/**
 * Whether every restored tree can stay on disk until the end of the run. They should: this
 * machine's ext4 runs without a journal, and such an ext4 skips inodes freed in the last 1 to 6
 * minutes when it allocates new ones (recently_deleted() in fs/ext4/ialloc.c). Right after a
 * restored tree of 20,000 files was deleted, each create scanned past its freed inodes: openat went
 * from 17 to 278 µs and `tar xf` of the plain tree from 3.6 to 7.5–9.4 s, for every tool alike, so
 * restores measured the previous deletion. Without the room, trees are removed as before (and the
 * report says so).
 */
async function roomToKeepRestores(base) {
  // Per repetition: tar, 3 Haven and 2 restic restores of the base tree; then the 4 GB tree's.
  const needed = base.bytes * (reps * 6 + 1) + (opts["skip-large"] ? 0 : base.bytes * 4) + 2e9;
  const fs = await statfs(WORK);
  const free = fs.bavail * fs.bsize;
  if (free >= needed) return true;
  log(
    `only ${(free / 1e9).toFixed(0)} GB free for ~${(needed / 1e9).toFixed(0)} GB of restored trees: ` +
      "each is removed after its run, so restores are measured shortly after a mass deletion",
  );
  return false;
}

async function largeTree(baseTree) {
  const extra = await ensureTree(join(DATA, opts.quick ? "extra-quick" : "extra-4g"), SHAPES.extra, log);
  const root = join(DATA, opts.quick ? "share-quick-large" : "share-4g");
  // Hard links: the large tree holds the base tree and the extra files without copying them (Haven
  // does not detect hard links, so it archives every byte, as for distinct files).
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  execFileSync("cp", ["-al", baseTree.root, join(root, "base")]);
  execFileSync("cp", ["-al", join(DATA, opts.quick ? "extra-quick" : "extra-4g"), join(root, "extra")]);
  return { root, files: baseTree.files + extra.files, bytes: baseTree.bytes + extra.bytes };
}

async function main() {
  const startedAt = new Date();
  const versions = preflight();
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const machine = {
    nproc: tool("nproc", []) ?? String(cpus().length),
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
    loadAtStart: loadavg()
      .map((n) => n.toFixed(2))
      .join(" "),
    idleAtStart: await idleShare(),
    node: process.version,
    ...versions,
  };
  const baseRoot = join(DATA, opts.quick ? "share-quick" : "share-1g");
  const base = { root: baseRoot, ...(await ensureTree(baseRoot, SHAPES.base, log)) };
  const results = new Results();
  const tls = await selfSignedCert(join(WORK, "tls"));
  const services = await startServices(WORK, tls);
  const cleanup = async () => {
    await services.stop();
    if (!opts["keep-work"]) await rm(WORK, { recursive: true, force: true });
  };
  process.once("SIGINT", () => {
    log("interrupted: stopping servers and removing bench/data/work");
    cleanup().finally(() => process.exit(130));
  });
  let large = null;
  let profileSection = "";
  const keepRestores = await roomToKeepRestores(base);
  try {
    const runner = createRunner({ results, tls, services, keepRestores });
    log(`warming the page cache with ${base.root}`);
    await warm(base);
    for (let rep = 1; rep <= reps; rep++) {
      log(`repetition ${rep}/${reps} on ${base.root} (${(base.bytes / 1e6).toFixed(0)} MB)`);
      await baseRound(runner, base, versions.restic !== null, rep === 1);
    }
    if (!opts["no-profile"]) profileSection = await profiles(runner, base, services);
    if (!opts["skip-large"]) {
      large = await largeTree(base);
      log(`large tree ${large.root} (${(large.bytes / 1e6).toFixed(0)} MB), 1 repetition`);
      await warm(large);
      for (const kind of ["fs", "s3rver-https", "null"]) {
        await runner.havenCase("@4g", large, kind, { restore: kind === "fs" });
      }
      await rm(large.root, { recursive: true, force: true });
    }
  } finally {
    await cleanup();
  }
  const finishedAt = new Date();
  const report = renderReport({
    startedAt,
    finishedAt,
    machine,
    quick: opts.quick,
    reps,
    keepRestores,
    trees: { base, large },
    shapes: SHAPES,
    results,
    profileSection,
  });
  console.log(report);
  const file = opts.quick ? join(DATA, "RESULTS-quick.md") : join(BENCH, "RESULTS.md");
  await writeResults(file, report);
  log(
    `report written to ${file.slice(ROOT.length + 1)} (${((finishedAt - startedAt) / 60000).toFixed(1)} min)`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
