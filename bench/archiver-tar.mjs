// The naive baseline: archiver 8 (ESM-only: `new TarArchive()`, default settings) writing the tar of
// a directory to stdout. The harness pipes it to /dev/null (archiver's own cost) or into zstd.
// Usage: node bench/archiver-tar.mjs DIR > out.tar
import { TarArchive } from "archiver";
import { pipeline } from "node:stream/promises";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node bench/archiver-tar.mjs DIR");
  process.exit(2);
}
const archive = new TarArchive();
archive.on("warning", (error) => console.error(`warning: ${error.message}`));
archive.directory(dir, false);
const done = pipeline(archive, process.stdout);
await archive.finalize();
await done;
