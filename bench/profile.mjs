// Summarises a V8 CPU profile (`node --cpu-prof`): self time per function and per component, as
// shares of the profiled wall time. Components are told apart by script URL (node_modules package,
// Haven's dist/, node core) or, for native frames with no URL, by V8's own names.
// Usage: node bench/profile.mjs FILE.cpuprofile [TOP]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const shortUrl = (url) => url.replace(/^.*\/(node_modules|dist)\//, "$1/").replace(/^file:\/\//, "");

function componentOf(frame) {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName.startsWith("(")) return functionName; // (idle), (program), (garbage collector)
    return "native (C++ bindings: hashing, crypto, fs, zlib)";
  }
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) {
    const name = pkg[1];
    if (name.startsWith("@aws-sdk/") || name.startsWith("@smithy/") || name.startsWith("@aws-crypto/"))
      return "AWS SDK (@aws-sdk, @smithy, @aws-crypto)";
    if (["tar-stream", "streamx", "b4a", "fast-fifo", "text-decoder", "bare-events"].includes(name))
      return "tar-stream (+ streamx)";
    return `npm: ${name}`;
  }
  const own = url.match(/\/dist\/(.+)\.js$/);
  if (own) return `haven: ${own[1].split("/").slice(0, 2).join("/")}`;
  if (url.startsWith("node:")) {
    if (/^node:internal\/(modules|bootstrap|vm)/.test(url)) return "node: module loading (start-up)";
    if (/^node:(internal\/)?streams?\b|^node:stream/.test(url)) return "node: streams";
    if (/^node:(internal\/)?buffer/.test(url)) return "node: Buffer (copies, allocation)";
    if (/^node:internal\/crypto/.test(url)) return "node: crypto (sha256 `Hash.update` runs here)";
    if (/^node:(internal\/)?(net|tls|_http|http|dns|stream_base)/.test(url)) return "node: net, tls, http";
    if (/^node:(internal\/)?(child_process|fs)/.test(url)) return "node: fs, child_process";
    return "node: other core";
  }
  return url;
}

/**
 * { seconds, busyShare, functions: [{ name, where, ms, share }], components: [{ name, ms, share }] },
 * shares of all samples (idle included), so they add up to 100 %.
 */
export function summarizeProfile(file, top = 15) {
  const profile = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** The nearest caller outside node core and natives: the code that asked for the work. */
  const origin = (id) => {
    for (let at = parentOf.get(id); at !== undefined; at = parentOf.get(at)) {
      const { url, functionName, lineNumber } = byId.get(at).callFrame;
      if (url && !url.startsWith("node:"))
        return `${functionName || "(anonymous)"} ${shortUrl(url)}:${lineNumber + 1}`;
    }
    return "node core only";
  };
  const origins = new Map();
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  const msPerSample = (seconds * 1000) / total;
  const functions = new Map();
  const components = new Map();
  let idle = 0;
  // Inclusive time of code outside node core (Haven's dist/ and npm packages): every sample counts
  // once for each distinct such function on its stack.
  const inclusive = new Map();
  let startup = 0;
  for (const [id, count] of counts) {
    const seen = new Set();
    let loading = false;
    for (let at = id; at !== undefined; at = parentOf.get(at)) {
      const { url, functionName, lineNumber } = byId.get(at).callFrame;
      if (url.startsWith("node:internal/modules/")) loading = true;
      if (!url || url.startsWith("node:") || !functionName) continue;
      seen.add(`${functionName} ${shortUrl(url)}:${lineNumber + 1}`);
    }
    if (loading) startup += count;
    for (const key of seen) inclusive.set(key, (inclusive.get(key) ?? 0) + count);
  }
  for (const [id, count] of counts) {
    const frame = byId.get(id).callFrame;
    if (frame.functionName === "(idle)") idle += count;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : "";
    const key = `${frame.functionName || "(anonymous)"}\u0000${where}`;
    functions.set(key, (functions.get(key) ?? 0) + count);
    if (!origins.has(key)) origins.set(key, new Map());
    const from = origin(id);
    origins.get(key).set(from, (origins.get(key).get(from) ?? 0) + count);
    const component = componentOf(frame);
    components.set(component, (components.get(component) ?? 0) + count);
  }
  const rows = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .map(([key, count]) => ({ key, ms: count * msPerSample, share: count / total }));
  return {
    seconds,
    busyShare: 1 - idle / total,
    startupShare: startup / total,
    inclusive: rows(inclusive)
      .filter(
        ({ key }) =>
          !/^(main|runMain|parseAsync|_parseCommand|_dispatchSubcommand|action|\(anonymous\)) /.test(key),
      )
      .slice(0, top)
      .map(({ key, ms, share }) => ({ name: key, ms, share })),
    functions: rows(functions)
      .slice(0, top)
      .map(({ key, ms, share }) => {
        const [name, where] = key.split("\u0000");
        const callers = [...origins.get(key)]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([caller, count]) => ({ caller, share: count / total }));
        return { name, where, ms, share, callers };
      }),
    components: rows(components).map(({ key, ms, share }) => ({ name: key, ms, share })),
  };
}

/** Markdown for one profile: components, then the top functions by self time. */
export function profileMarkdown(title, summary) {
  const pct = (share) => `${(share * 100).toFixed(1)} %`;
  const lines = [
    `#### ${title}`,
    "",
    `${summary.seconds.toFixed(1)} s profiled; main thread busy ${pct(summary.busyShare)} of it; ` +
      `loading modules (start-up, inclusive) ${pct(summary.startupShare)}.`,
    "",
    "| component (self time) | share | ms |",
    "|---|---:|---:|",
    ...summary.components.slice(0, 10).map((c) => `| ${c.name} | ${pct(c.share)} | ${c.ms.toFixed(0)} |`),
    "",
    "| Haven or npm function (inclusive: itself and all it calls) | share |",
    "|---|---:|",
    ...summary.inclusive.map((f) => `| \`${f.name}\` | ${pct(f.share)} |`),
    "",
    "| function (self time) | where | share | called from (nearest frame outside node core: share) |",
    "|---|---|---:|---|",
    ...summary.functions.map((f) => {
      const callers = f.name.startsWith("(")
        ? ""
        : f.callers.map((c) => `\`${c.caller}\`: ${pct(c.share)}`).join("; ");
      return `| \`${f.name}\` | ${f.where ? `\`${f.where}\`` : "native"} | ${pct(f.share)} | ${callers} |`;
    }),
    "",
  ];
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error("usage: node bench/profile.mjs FILE.cpuprofile [TOP]");
    process.exit(2);
  }
  console.log(profileMarkdown(file, summarizeProfile(file, Number(top ?? 25))));
}
