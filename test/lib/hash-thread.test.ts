import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HashThread, Sha256, sha256Of, sha256Room } from "../../src/lib/hash-thread";
import { HashingStream, VerifyingStream } from "../../src/lib/hashing";

const hex = (...parts: Buffer[]) => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
};

/** Deterministic sizes from a seed, so a failure reproduces. */
function sizes(seed: number, count: number, max: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % max;
  });
}

describe("sha256 on the hashing thread", () => {
  it("gives the digest of the empty input", async () => {
    await expect(new Sha256().digest()).resolves.toBe(hex());
    await expect(sha256Of(Buffer.alloc(0))).resolves.toBe(hex());
  });

  it("keeps interleaved sessions apart across batch boundaries, and copes with chunks larger than a batch", async () => {
    const sessions = [new Sha256(), new Sha256(), new Sha256()];
    const given: Buffer[][] = [[], [], []];
    const chunkSizes = sizes(7, 120, 300_000);
    chunkSizes.push(3 * 1024 * 1024 + 17); // spans several 1 MiB batches in one call
    for (const [i, size] of chunkSizes.entries()) {
      const which = i % 3;
      const chunk = randomBytes(size);
      (sessions[which] as Sha256).update(chunk);
      given[which]?.push(chunk);
      await sessions[which]?.room();
    }
    const digests = await Promise.all(sessions.map((s) => s.digest()));
    expect(digests).toEqual(given.map((parts) => hex(...parts)));
  });

  it("copies what it is given, so the caller may reuse its buffer at once", async () => {
    const session = new Sha256();
    const buffer = Buffer.alloc(4096, 1);
    session.update(buffer);
    buffer.fill(2);
    session.update(buffer);
    await expect(session.digest()).resolves.toBe(hex(Buffer.alloc(4096, 1), Buffer.alloc(4096, 2)));
  });

  it("hashes many small one-shot buffers (a tree of small files), each to its own digest", async () => {
    const buffers = sizes(11, 3000, 70_000).map((n) => randomBytes(n));
    const pending: Array<Promise<string>> = [];
    for (const buffer of buffers) {
      pending.push(sha256Of(buffer));
      await sha256Room();
    }
    expect(await Promise.all(pending)).toEqual(buffers.map((b) => hex(b)));
  });

  it("refuses use after digest, and a discarded session does not disturb the others", async () => {
    const done = new Sha256();
    done.update(Buffer.from("x"));
    await done.digest();
    expect(() => done.update(Buffer.from("y"))).toThrow(/after digest/);

    const dropped = new Sha256();
    dropped.update(Buffer.from("abandoned"));
    dropped.discard();
    const kept = new Sha256();
    kept.update(Buffer.from("kept"));
    await expect(kept.digest()).resolves.toBe(hex(Buffer.from("kept")));
  });
});

describe("a hashing thread that dies", () => {
  it("fails its sessions for good (never continues one on a new thread) and the next sessions use a new thread", async () => {
    // A worker that dies on its first batch, as one killed by the OOM killer would.
    const dying = new HashThread(
      `require("node:worker_threads").parentPort.on("message", () => process.exit(3));`,
    );
    const open = new Sha256(dying);
    const finishing = new Sha256(dying);
    open.update(Buffer.from("first part"));
    finishing.update(Buffer.from("all of it"));
    await expect(finishing.digest()).rejects.toMatchObject({
      code: "TRANSIENT",
      message: expect.stringMatching(/sha256 could not be computed/),
      hint: expect.stringMatching(/retried/),
    });
    expect(dying.failed).toBe(true);
    expect(() => open.update(Buffer.from("second part"))).toThrow(/sha256 could not be computed/);
    await expect(open.digest()).rejects.toMatchObject({ code: "TRANSIENT" });

    // Sessions made afterwards on the shared thread are unaffected.
    await expect(sha256Of(Buffer.from("later"))).resolves.toBe(hex(Buffer.from("later")));
  });
});

describe("HashingStream and VerifyingStream", () => {
  const sink = () =>
    new Writable({
      write(_chunk, _encoding, callback) {
        callback();
      },
    });

  it("passes bytes through and reports size and sha256 once ended", async () => {
    const parts = sizes(3, 50, 200_000).map((n) => randomBytes(n));
    const passed: Buffer[] = [];
    const hashing = new HashingStream();
    await pipeline(
      Readable.from(parts),
      hashing,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          passed.push(chunk);
          callback();
        },
      }),
    );
    expect(Buffer.concat(passed).equals(Buffer.concat(parts))).toBe(true);
    expect(hashing.bytes).toBe(Buffer.concat(parts).length);
    expect(hashing.sha256).toBe(hex(...parts));
  });

  it("fails the stream at its end when the bytes differ from what was recorded", async () => {
    const data = randomBytes(100_000);
    const good = new VerifyingStream({ size: data.length, sha256: hex(data), what: "object x" });
    await expect(pipeline(Readable.from([data]), good, sink())).resolves.toBeUndefined();

    const altered = Buffer.from(data);
    altered[500] = (altered[500] as number) ^ 1;
    const bad = new VerifyingStream({ size: data.length, sha256: hex(data), what: "object x" });
    await expect(pipeline(Readable.from([altered]), bad, sink())).rejects.toMatchObject({
      code: "INTEGRITY",
      message: expect.stringMatching(/object x is corrupt/),
    });
  });
});
