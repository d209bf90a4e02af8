import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createCompressor,
  createDecompressor,
  effectiveAlgorithm,
  zstdCodecs,
  type CodecStream,
  type ZstdCodec,
} from "../../src/engine/compression";

/** Half compressible text, half random bytes, in uneven chunks (as a tar stream arrives). */
function sample(): Buffer[] {
  const text = Buffer.from("the quick brown fox jumps over the lazy dog ".repeat(60_000));
  const noise = randomBytes(3 * 1024 * 1024);
  const whole = Buffer.concat([text, noise, text.subarray(0, 12_345)]);
  const chunks: Buffer[] = [];
  for (let at = 0, size = 1; at < whole.length; size = (size * 7) % 300_001) {
    chunks.push(whole.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

async function run(codec: CodecStream, input: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(input),
    codec.stream,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  await codec.finished;
  return Buffer.concat(out);
}

describe("zstd codecs", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "haven-zstd-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("has both the native binding and the zstd binary here, the binding preferred for compression", () => {
    // CI installs both; a machine without one of them would silently test less.
    expect(zstdCodecs()).toEqual({ compress: ["native", "process"], decompress: ["process", "native"] });
    expect(effectiveAlgorithm("zstd")).toBe("zstd");
  });

  const pairs: Array<[ZstdCodec, ZstdCodec]> = [
    ["native", "native"],
    ["native", "process"],
    ["process", "native"],
    ["process", "process"],
  ];
  it.each(pairs)("compresses with %s and decompresses with %s to the same bytes", async (c, d) => {
    const input = sample();
    const plain = Buffer.concat(input);
    const compressed = await run(createCompressor({ algorithm: "zstd", level: 1 }, c), input);
    expect(compressed.length).toBeLessThan(plain.length * 0.75);
    const back = await run(createDecompressor("zstd", d), [compressed]);
    expect(back.equals(plain)).toBe(true);
  });

  it("writes frames the zstd CLI accepts, with a content checksum", async () => {
    const input = sample();
    const file = join(dir, "native.zst");
    await writeFile(file, await run(createCompressor({ algorithm: "zstd", level: 3 }, "native"), input));
    execFileSync("zstd", ["-q", "-t", file]);
    const listing = execFileSync("zstd", ["-lv", file], { encoding: "utf8" });
    expect(listing).toMatch(/Check:\s+XXH64/);
    const restored = execFileSync("zstd", ["-q", "-d", "-c", file], { maxBuffer: 64 << 20 });
    expect(restored.equals(Buffer.concat(input))).toBe(true);
  });

  it.each(["native", "process"] as const)("%s: an empty stream round-trips", async (codec) => {
    const compressed = await run(createCompressor({ algorithm: "zstd", level: 1 }, codec), []);
    expect((await run(createDecompressor("zstd", codec), [compressed])).length).toBe(0);
  });

  it.each(["native", "process"] as const)("%s: a corrupted frame fails decompression", async (codec) => {
    const input = sample();
    const compressed = await run(createCompressor({ algorithm: "zstd", level: 1 }, "native"), input);
    const damaged = Buffer.from(compressed);
    const at = Math.floor(damaged.length / 3);
    damaged[at] = (damaged[at] ?? 0) ^ 0xff;
    await expect(run(createDecompressor("zstd", codec), [damaged])).rejects.toThrow();
  });

  it("reads back what it wrote to disk", async () => {
    const file = join(dir, "disk.zst");
    const input = sample();
    await writeFile(file, await run(createCompressor({ algorithm: "zstd", level: 1 }), input));
    const back = await run(createDecompressor("zstd"), [await readFile(file)]);
    expect(back.equals(Buffer.concat(input))).toBe(true);
  });
});

describe("a zstd child that fails", () => {
  /** Feeds `codec` until its zstd child is killed by `signal`; returns how `finished` settled. */
  async function killedWhileRunning(codec: CodecStream, signal: NodeJS.Signals): Promise<unknown> {
    const input = new Readable({ read() {} });
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    const piped = pipeline(input, codec.stream, sink).catch(() => undefined);
    input.push(randomBytes(64 * 1024));
    const child = execFileSync("pgrep", ["-n", "-P", String(process.pid), "zstd"], { encoding: "utf8" });
    process.kill(Number(child.trim()), signal);
    const outcome = await codec.finished.then(
      () => "finished",
      (error: unknown) => error,
    );
    input.destroy();
    await piped;
    return outcome;
  }

  it.each([
    ["decompression", () => createDecompressor("zstd", "process")],
    ["compression", () => createCompressor({ algorithm: "zstd", level: 1 }, "process")],
  ] as const)("%s killed by a signal is TRANSIENT, not proof of corrupt data", async (_what, create) => {
    expect(await killedWhileRunning(create(), "SIGKILL")).toMatchObject({ code: "TRANSIENT" });
  });

  it("decompression that rejects the data is INTEGRITY", async () => {
    const garbage = randomBytes(4096);
    await expect(run(createDecompressor("zstd", "process"), [garbage])).rejects.toMatchObject({
      code: "INTEGRITY",
    });
  });
});
