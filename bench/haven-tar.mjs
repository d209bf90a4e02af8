// Haven's own tar producer alone (dist/targets/files/archive.js: walk, read-ahead, tar-stream, the
// per-file sha256 index), writing to stdout: what `haven backup` costs before compression and upload.
// Usage: node bench/haven-tar.mjs DIR > out.tar     (after `npm run build`)
import { createRequire } from "node:module";
import { pipeline } from "node:stream/promises";

const require = createRequire(import.meta.url);
const { createTarArchive } = require("../dist/targets/files/archive.js");
const { silentLogger } = require("../dist/lib/logger.js");

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node bench/haven-tar.mjs DIR");
  process.exit(2);
}
const warnings = [];
const run = {
  signal: new AbortController().signal,
  logger: silentLogger,
  warn: (message) => warnings.push(message),
};
const archive = createTarArchive({ target: "bench", root: dir, exclude: [], run });
await pipeline(archive.body, process.stdout);
const stats = await archive.done;
console.error(JSON.stringify({ ...stats, warnings: warnings.length }));
