// Runs one command under GNU time and samples the memory of its whole process tree.
//
// Two memory figures per run:
// - treePeakKiB: the largest sum of VmRSS over the command's process tree (node + its zstd child,
//   tar + zstd, ...), sampled every SAMPLE_MS from /proc. This is the figure the RSS target is
//   checked against: it counts the helper processes a run needs.
// - maxRssKiB: GNU time's %M, the peak RSS of the single largest process in the tree (exact, not
//   sampled; it misses the sum).
// CPU seconds (user + system) come from GNU time and include the children each process waited for;
// cpuByCommand splits them by process name (node, zstd, tar, restic) from the same /proc samples.
import { spawn } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SAMPLE_MS = 50;
const PAGE_KIB = 4;
/** USER_HZ: /proc reports CPU time in these ticks per second (100 on Linux). */
const CLOCK_TICKS = 100;

/** ppid and resident pages of every process, from /proc/<pid>/stat (comm may hold spaces and parens). */
function processTable() {
  const table = new Map();
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "latin1");
    } catch {
      continue; // exited between the listing and the read
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After "pid (comm) ": state ppid ...; utime, stime are fields 14, 15 of stat and rss is 24,
    // so indexes 11, 12 and 21 here.
    table.set(Number(name), {
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      rssPages: Number(fields[21]),
    });
  }
  return table;
}

/**
 * Sum of RSS (KiB) of `root`'s descendants, not counting `root` itself (GNU time, a few hundred KiB);
 * records each descendant's CPU ticks so far in `cpuByPid`.
 */
function sampleTree(root, cpuByPid) {
  const table = processTable();
  const children = new Map();
  for (const [pid, { ppid }] of table) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  let total = 0;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop();
    const proc = table.get(pid);
    total += (proc?.rssPages ?? 0) * PAGE_KIB;
    if (proc) cpuByPid.set(pid, { comm: proc.comm, ticks: proc.cpuTicks });
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/**
 * Runs `argv` (array; use ["sh", "-c", "..."] for a pipeline). Resolves with
 * { seconds, cpuSeconds, cpuByCommand, treePeakKiB, maxRssKiB }; rejects with the tail of stderr when it fails.
 * stdout goes to `stdoutFile` (default: discarded), stderr to `stderrFile` (default: a temp file).
 */
export async function measure(argv, { env = process.env, cwd, stdoutFile, stderrFile } = {}) {
  const dir = await mkdtemp(join(tmpdir(), "haven-bench-time-"));
  const timeFile = join(dir, "time");
  const errFile = stderrFile ?? join(dir, "stderr");
  try {
    const stdout = stdoutFile ? createWriteStream(stdoutFile) : "ignore";
    const stderr = createWriteStream(errFile);
    await Promise.all([
      ...(stdout === "ignore" ? [] : [new Promise((r) => stdout.on("open", r))]),
      new Promise((r) => stderr.on("open", r)),
    ]);
    const started = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-f", "%e %M %U %S", "-o", timeFile, "--", ...argv], {
      env,
      cwd,
      stdio: ["ignore", stdout, stderr],
    });
    let treePeakKiB = 0;
    const cpuByPid = new Map();
    const sample = () => {
      treePeakKiB = Math.max(treePeakKiB, sampleTree(child.pid, cpuByPid));
    };
    const timer = setInterval(sample, SAMPLE_MS);
    const code = await new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (exitCode, signal) => resolve(signal ?? exitCode));
    });
    clearInterval(timer);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (stdout !== "ignore") stdout.end();
    stderr.end();
    if (code !== 0) {
      const tail = (await readFile(errFile, "utf8").catch(() => "")).slice(-3000);
      throw new Error(`${argv.join(" ")} exited with ${code}:\n${tail}`);
    }
    const [, maxRss, user, system] = (await readFile(timeFile, "utf8")).trim().split("\n").at(-1).split(" ");
    // CPU per command name, as last sampled (a process's final < SAMPLE_MS are missed).
    const cpuByCommand = {};
    for (const { comm, ticks } of cpuByPid.values()) {
      cpuByCommand[comm] = (cpuByCommand[comm] ?? 0) + ticks / CLOCK_TICKS;
    }
    return {
      seconds,
      cpuSeconds: Number(user) + Number(system),
      cpuByCommand,
      treePeakKiB,
      maxRssKiB: Number(maxRss),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The share of all cores' time the machine spent idle over `ms`, from /proc/stat: how quiet it was
 * just before a run, stated in the results instead of guessed.
 */
export async function idleShare(ms = 2000) {
  const sample = async () => {
    const fields = (await readFile("/proc/stat", "utf8"))
      .split("\n")[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return { idle: fields[3] + (fields[4] ?? 0), total: fields.reduce((sum, n) => sum + n, 0) };
  };
  const before = await sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await sample();
  return (after.idle - before.idle) / Math.max(1, after.total - before.total);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
