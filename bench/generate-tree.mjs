// Deterministic benchmark trees: the same seed and shape always give byte-identical files, so runs on
// different days (and different tools in one run) read exactly the same data.
//
// Half of the files (and about half of the bytes) are text-like (random words from a fixed
// vocabulary: compressible about 3x by zstd -1, but with no repeated blocks a deduplicating tool
// could exploit), the other half is random (AES-256-CTR keystream: incompressible, fast to make).
import { createCipheriv, createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const KIB = 1024;
const MIB = 1024 * KIB;

/** mulberry32: a small seeded PRNG, good enough for sizes and word choices. Returns [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(...parts) {
  return createHash("sha256").update(parts.join(":")).digest().readUInt32LE(0);
}

/**
 * 4096 pseudo-words of 2 to 10 letters, laid out in one byte array with their offsets (a flat table
 * keeps the fill loop below fast: about 150 MB/s instead of 30 with an array of Buffers).
 */
function vocabulary(seed) {
  const random = prng(seedOf(seed, "vocabulary"));
  const letters = "etaoinshrdlcumwfgypbvkjxqz";
  const words = [];
  for (let i = 0; i < 4096; i++) {
    const length = 2 + Math.floor(random() * 9);
    let word = "";
    // Skewed letter choice, like natural text.
    for (let j = 0; j < length; j++) word += letters[Math.floor(random() ** 2 * letters.length)];
    words.push(Buffer.from(word, "latin1"));
  }
  const offsets = new Uint32Array(words.length + 1);
  words.reduce((at, word, i) => ((offsets[i] = at), at + word.length), 0);
  offsets[words.length] = words.reduce((n, w) => n + w.length, 0);
  return { bytes: new Uint8Array(Buffer.concat(words)), offsets, count: words.length };
}

/**
 * Fills `buffer` with text: words drawn Zipf-like (frequent words much more frequent than rare
 * ones), a newline every 8 to 15 words. `state` carries the PRNG (mulberry32, inlined) across chunks.
 */
function fillText(buffer, state, words) {
  const { bytes, offsets, count } = words;
  const end = buffer.length;
  let a = state.a;
  let at = 0;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  while (at < end) {
    const r = next();
    const word = (r * r * r * count) | 0;
    for (let i = offsets[word], stop = offsets[word + 1]; i < stop && at < end; i++) buffer[at++] = bytes[i];
    if (at >= end) break;
    if (--state.untilNewline === 0) {
      buffer[at++] = 0x0a;
      state.untilNewline = 8 + ((next() * 8) | 0);
    } else buffer[at++] = 0x20;
  }
  state.a = a;
}

/** A keystream per file: deterministic, incompressible, and never the same block twice. */
function randomSource(seed, name) {
  const key = createHash("sha256").update(`${seed}:${name}:key`).digest();
  const iv = createHash("sha256").update(`${seed}:${name}:iv`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-256-ctr", key, iv);
  return (buffer) => {
    const out = cipher.update(Buffer.alloc(buffer.length));
    out.copy(buffer);
  };
}

/** `rel` (not the absolute path) seeds the content, so the tree is the same wherever it is made. */
async function writeGenerated(path, rel, size, kind, seed, words) {
  const state = { a: seedOf(seed, rel) | 0, untilNewline: 8 };
  const fill = kind === "text" ? (b) => fillText(b, state, words) : randomSource(seed, rel);
  if (size <= MIB) {
    const buffer = Buffer.allocUnsafe(size);
    fill(buffer);
    await writeFile(path, buffer);
    return;
  }
  const handle = await open(path, "w");
  try {
    const chunk = Buffer.allocUnsafe(4 * MIB);
    for (let written = 0; written < size;) {
      const piece = chunk.subarray(0, Math.min(chunk.length, size - written));
      fill(piece);
      await handle.write(piece);
      written += piece.length;
    }
  } finally {
    await handle.close();
  }
}

/**
 * The files of one tree, in a fixed order: `smallFiles` files of 1 to 64 KiB under small/gNN/hN/,
 * and `largeFiles` files of 20 to 40 MiB under `largeDir`. Even indexes are text, odd random.
 */
export function planTree({ seed, smallFiles, largeFiles, largeDir = "large" }) {
  const random = prng(seedOf(seed, "sizes", largeDir));
  const files = [];
  for (let i = 0; i < smallFiles; i++) {
    const kind = i % 2 === 0 ? "text" : "random";
    const group = String(Math.floor(i / 1000)).padStart(2, "0");
    const sub = Math.floor(i / 100) % 10;
    const name = `f${String(i).padStart(5, "0")}.${kind === "text" ? "txt" : "bin"}`;
    const size = KIB + Math.floor(random() * 63 * KIB);
    files.push({ rel: join("small", `g${group}`, `h${sub}`, name), size, kind });
  }
  for (let i = 0; i < largeFiles; i++) {
    const kind = i % 2 === 0 ? "text" : "random";
    const size = 20 * MIB + Math.floor(random() * 20 * MIB);
    files.push({
      rel: join(largeDir, `big${String(i).padStart(3, "0")}.${kind === "text" ? "txt" : "bin"}`),
      size,
      kind,
    });
  }
  return files;
}

/**
 * Writes the planned files under `root` (an existing tree with a matching marker file beside it is
 * kept as it is). Returns { files, bytes } of what the tree holds.
 */
export async function ensureTree(root, shape, log = () => undefined) {
  const files = planTree(shape);
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const marker = `${root}.tree.json`;
  const description = JSON.stringify({ ...shape, files: files.length, bytes });
  if (existsSync(marker) && existsSync(root) && (await readFile(marker, "utf8")) === description) {
    log(`reusing ${root} (${files.length} files, ${(bytes / 1e6).toFixed(0)} MB)`);
    return { files: files.length, bytes };
  }
  const started = Date.now();
  log(`generating ${root}: ${files.length} files, ${(bytes / 1e6).toFixed(0)} MB (seed ${shape.seed})`);
  await rm(marker, { force: true });
  await rm(root, { recursive: true, force: true });
  const words = vocabulary(shape.seed);
  const made = new Set();
  for (const file of files) {
    const path = join(root, file.rel);
    const dir = join(path, "..");
    if (!made.has(dir)) {
      await mkdir(dir, { recursive: true });
      made.add(dir);
    }
    await writeGenerated(path, file.rel, file.size, file.kind, shape.seed, words);
  }
  await writeFile(marker, description);
  log(`generated ${root} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { files: files.length, bytes };
}
