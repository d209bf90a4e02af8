// Throughput of Haven's age v1 streams on one core: encrypt and decrypt 512 MiB (BENCH_AGE_MIB to change).
// Usage: node bench/age.mjs     (loads the TypeScript sources directly; no build needed)
//
// Encryption streams a repeated random block (64 KiB writes, as fs and zstd produce) into a sink that
// discards it. Decryption reads back a ciphertext file written first to a temp dir (page cache hot),
// with a plain read of the same file as the baseline, so the crypto cost is what the figures show.
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

const require = createRequire(import.meta.url);
// A tiny require hook: transpile .ts with SWC (already a dev dependency, used by Jest) on load.
const { transformSync } = require("@swc/core");
require.extensions[".ts"] = (module, filename) => {
  const source = require("node:fs").readFileSync(filename, "utf8");
  const { code } = transformSync(source, {
    filename,
    jsc: { parser: { syntax: "typescript" }, target: "es2022" },
    module: { type: "commonjs" },
  });
  module._compile(code, filename);
};
const age = require("../src/crypto/age.ts");

const MIB = 1024 * 1024;
const totalMiB = Number(process.env.BENCH_AGE_MIB ?? 512);
const WRITE_SIZE = 64 * 1024;
const block = randomBytes(MIB);

function source() {
  return Readable.from(
    (function* () {
      for (let i = 0; i < totalMiB; i++) {
        for (let at = 0; at < MIB; at += WRITE_SIZE) yield block.subarray(at, at + WRITE_SIZE);
      }
    })(),
  );
}

function discard() {
  return new Writable({ highWaterMark: 4 * WRITE_SIZE, write: (_chunk, _encoding, callback) => callback() });
}

async function timed(label, bytes, run) {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const rate = bytes / MIB / seconds;
  console.log(
    `${label.padEnd(34)} ${rate.toFixed(0).padStart(6)} MiB/s  (${seconds.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s CPU)`,
  );
  return rate;
}

const { identity, recipient } = age.generateIdentity();
const recipients = [age.parseRecipient(recipient)];
const identities = [age.parseIdentity(identity)];
const bytes = totalMiB * MIB;
const dir = await mkdtemp(join(tmpdir(), "haven-bench-age-"));
const file = join(dir, "payload.age");
try {
  console.log(`age v1 streams, ${totalMiB} MiB, Node ${process.version}`);
  await timed("baseline: source -> discard", bytes, () => pipeline(source(), discard()));
  await timed("encrypt: source -> age -> discard", bytes, () =>
    pipeline(source(), age.createEncryptStream(recipients), discard()),
  );
  await pipeline(source(), age.createEncryptStream(recipients), createWriteStream(file));
  await timed("baseline: read ciphertext file", bytes, () => pipeline(createReadStream(file), discard()));
  await timed("decrypt: read file -> age -d", bytes, () =>
    pipeline(createReadStream(file), age.createDecryptStream(identities), discard()),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
