// The Markdown report of a benchmark run: machine, trees, method, the issue's targets with pass/fail,
// one table per tree size, the commands, and the CPU profile summaries. writeResults() replaces only
// the generated section of RESULTS.md, so the hand-written analysis around it survives a re-run.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { median } from "./measure.mjs";
import { SCENARIOS, scenarioOf } from "./scenarios.mjs";

const BEGIN = "<!-- bench:generated:begin (written by bench/run.mjs; edits inside are lost) -->";
const END = "<!-- bench:generated:end -->";
const RSS_LIMIT_MB = 300;

const mb = (kib) => (kib * 1024) / 1e6;
const fixed = (n, digits = 0) => (n === undefined || Number.isNaN(n) ? "–" : n.toFixed(digits));

/** Median throughput and time, worst memory: { mbps, seconds, cpu, treeMB, maxMB, outMB, all }. */
function summarize(runs) {
  if (!runs || runs.length === 0) return null;
  const outs = runs.map((r) => r.outBytes).filter((n) => n !== undefined);
  const commits = runs.map((r) => r.commitSeconds).filter((n) => n !== undefined);
  return {
    mbps: median(runs.map((r) => r.mbps)),
    seconds: median(runs.map((r) => r.seconds)),
    cpu: median(runs.map((r) => r.cpuSeconds)),
    treeMB: Math.max(...runs.map((r) => mb(r.treePeakKiB))),
    maxMB: Math.max(...runs.map((r) => mb(r.maxRssKiB))),
    outMB: outs.length > 0 ? median(outs) / 1e6 : undefined,
    commit: commits.length > 0 ? median(commits) : undefined,
    all: runs.map((r) => r.seconds.toFixed(1)).join(" / "),
  };
}

function table(results, ids) {
  const rows = [
    "| scenario | MB/s (median) | wall s (each run) | CPU s | peak RSS, process tree (MB) | largest process (MB) | output (MB) |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const id of ids) {
    const s = summarize(results.runs.get(id));
    if (!s) continue;
    rows.push(
      `| ${scenarioOf(id).label} | **${fixed(s.mbps)}** | ${s.all} | ${fixed(s.cpu, 1)} | ${fixed(s.treeMB)} | ${fixed(s.maxMB)} | ${fixed(s.outMB)} |`,
    );
  }
  return rows.join("\n");
}

/**
 * How much of each S3 backup's wall time the server spent committing the upload. s3rver's
 * CompleteMultipartUpload reads every part back, md5s it and writes it into one new file, after the
 * last byte arrived; real S3 services commit without such a copy. restic's ~16 MB pack files are
 * stored one by one while it reads on, so whatever their commits cost overlaps the rest of its run.
 */
function commitNote(results) {
  const rows = [...results.runs.keys()]
    .map((id) => ({ id, s: summarize(results.runs.get(id)) }))
    .filter(({ s }) => s.commit !== undefined);
  if (rows.length === 0) return [];
  return [
    "Of those wall times, s3rver's `CompleteMultipartUpload` (median, from Haven's debug log): " +
      rows.map(({ id, s }) => `${id} ${fixed(s.commit, 1)} of ${fixed(s.seconds, 1)} s`).join("; ") +
      ". s3rver reads every part back, md5s it and writes one new file after the last byte arrived; " +
      "restic stores ~16 MB pack files one by one while it reads on, so whatever s3rver spends on them overlaps the rest of its run.",
    "",
  ];
}

/** The issue's targets, each with what was measured and pass/fail ("n/a" when a side is missing). */
function targets(results) {
  const get = (id) => summarize(results.runs.get(id));
  const rows = [];
  const ratio = (name, havenId, peerId, factor) => {
    const haven = get(havenId);
    const peer = get(peerId);
    if (!haven || !peer) return rows.push(`| ${name} | not measured | n/a |`);
    const r = haven.mbps / peer.mbps;
    rows.push(
      `| ${name} | ${fixed(haven.mbps)} vs ${fixed(peer.mbps)} MB/s = **${r.toFixed(2)} ×** | ${r >= factor ? "PASS" : "FAIL"} |`,
    );
  };
  ratio("backup ≥ 0.8 × `tar | zstd -1 -T0` (filesystem destination)", "haven-fs", "tar-zstd", 0.8);
  ratio(
    "backup ≥ 1.5 × restic backup to the same s3rver (HTTPS)",
    "haven-s3rver-https",
    "restic-s3rver-https",
    1.5,
  );
  ratio(
    "restore ≥ 2 × restic restore (filesystem / local repository)",
    "haven-restore-fs",
    "restic-restore-local",
    2,
  );
  ratio(
    "restore ≥ 2 × restic restore (s3rver over HTTPS)",
    "haven-restore-s3rver-https",
    "restic-restore-s3rver-https",
    2,
  );
  ratio(
    "backup with encryption ≥ 0.9 × without (filesystem destination; issue 7)",
    "haven-fs-age",
    "haven-fs",
    0.9,
  );
  for (const [size, suffix] of [
    ["~1 GB", ""],
    ["~4 GB", "@4g"],
  ]) {
    const ids = [...results.runs.keys()].filter(
      (id) =>
        id.startsWith("haven-") && id !== "haven-tar" && (suffix ? id.endsWith(suffix) : !id.includes("@")),
    );
    if (ids.length === 0) {
      rows.push(`| peak RSS ≤ ${RSS_LIMIT_MB} MB at ${size} | not measured | n/a |`);
      continue;
    }
    const worst = ids
      .map((id) => ({ id, mb: summarize(results.runs.get(id)).treeMB }))
      .sort((a, b) => b.mb - a.mb)[0];
    rows.push(
      `| peak RSS ≤ ${RSS_LIMIT_MB} MB at ${size} (every Haven backup and restore, process tree) | worst **${fixed(worst.mb)} MB** (${worst.id}) | ${worst.mb <= RSS_LIMIT_MB ? "PASS" : "FAIL"} |`,
    );
  }
  return ["| target (issue 2 unless named) | measured | result |", "|---|---|---|", ...rows].join("\n");
}

export function renderReport({
  startedAt,
  finishedAt,
  machine,
  quick,
  reps,
  keepRestores,
  trees,
  shapes,
  results,
  profileSection,
}) {
  const { base, large } = trees;
  const minutes = ((finishedAt - startedAt) / 60000).toFixed(1);
  const baseIds = Object.keys(SCENARIOS).filter((id) => results.runs.has(id));
  const largeIds = [...results.runs.keys()].filter((id) => id.endsWith("@4g"));
  const lines = [
    `## Results of ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC${quick ? " (QUICK smoke run: small tree, not the real figures)" : ""}`,
    "",
    `- Machine: ${machine.nproc} cores (${machine.cpu}), ${machine.memoryGiB} GiB RAM; load average at start ${machine.loadAtStart}, ` +
      `${(machine.idleAtStart * 100).toFixed(0)} % of the CPU idle in the 2 s before the run. ` +
      "Other work on the machine during the run would slow every scenario of a round alike; interleaving keeps the ratios fair, not the MB/s.",
    `- Tools: Node ${machine.node}; ${machine.zstd}; ${machine.tar}; ${machine.restic ?? "restic missing"}.`,
    `- Tree: ${base.files} files, ${fixed(base.bytes / 1e6)} MB (${shapes.base.smallFiles} files of 1–64 KiB, ${shapes.base.largeFiles} of 20–40 MiB; ` +
      `half text-like and compressible, half random; seed ${shapes.base.seed}, \`bench/generate-tree.mjs\`).` +
      (large
        ? ` Large tree: the same plus ${shapes.extra.largeFiles} files of 20–40 MiB, ${large.files} files, ${fixed(large.bytes / 1e6)} MB.`
        : " Large tree: skipped."),
    `- Method: ${reps === 1 ? "1 run" : `median of ${reps} runs`} per scenario at ~1 GB, interleaved (one round of every scenario, then the next), ` +
      "so background load hits all of them alike; 1 run per scenario at ~4 GB. Trees in the page cache (read once before timing). " +
      (keepRestores
        ? "Each restore writes into a new directory, and restored trees are removed only at the end (this ext4 has no journal, and then skips recently freed inodes when it allocates: a restore right after a deletion timed that). "
        : "**Restored trees were removed after each run for want of disk space, so restores ran shortly after a mass deletion and are slower than they should be (see `roomToKeepRestores` in bench/run.mjs).** ") +
      "MB/s = source bytes (10^6) / wall seconds, restores too. " +
      "Peak RSS, process tree = the largest sum of RSS over the command's processes (node + its zstd child; tar + zstd; restic), " +
      "sampled every 50 ms from /proc — the figure checked against the target, worst of the runs. " +
      "Largest process = GNU time `%M` (exact peak of the biggest single process). " +
      "CPU s = user + system of the whole tree (GNU time). Output = stored bytes (Haven's `storedBytes`, the .tar.zst, the restic repository). " +
      "Haven and the baselines use zstd level 1 (`compression: { algorithm: zstd, level: 1 }`); restic uses its default (`--compression auto`, repository v2).",
    `- Whole run: ${minutes} min.`,
    "",
    "### Targets",
    "",
    targets(results),
    "",
    `### ~1 GB tree (${fixed(base.bytes / 1e6)} MB)`,
    "",
    table(results, baseIds),
    "",
  ];
  if (largeIds.length > 0) {
    lines.push(
      `### ~4 GB tree (${fixed(large.bytes / 1e6)} MB, 1 run each)`,
      "",
      table(results, largeIds),
      "",
    );
  }
  lines.push(...commitNote(results));
  lines.push(
    "### Commands",
    "",
    "DIR is the tree, CFG the YAML config the harness writes (one `files` target `share`, zstd level 1, the destination named in the row).",
    "",
    ...Object.entries(SCENARIOS).map(([id, s]) => `- \`${id}\`: \`${s.command}\``),
    "",
  );
  if (profileSection)
    lines.push(
      "### CPU profiles (`node --cpu-prof`, main thread, ~1 GB tree; not timed runs)",
      "",
      profileSection,
    );
  return lines.join("\n");
}

const SKELETON = `# Benchmark: Haven file-share backup and restore

Run with \`npm run bench\` (about 20 minutes here), or \`node bench/run.mjs --quick\` for a smoke run.
The section between the markers is rewritten by every full run; the analysis below it is by hand.

${BEGIN}
${END}
`;

/** Puts `report` between the markers of `file` (created from a skeleton if missing). */
export async function writeResults(file, report) {
  const current = existsSync(file) ? await readFile(file, "utf8") : SKELETON;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start + BEGIN.length)}\n${report}\n${current.slice(end)}`
      : `${current.trimEnd()}\n\n${BEGIN}\n${report}\n${END}\n`;
  await writeFile(file, next);
}
