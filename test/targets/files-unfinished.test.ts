/**
 * A file whose restore fails part way (the payload ends inside it, the destination fills up) is
 * removed, never left short under its own name where it would pass for restored. Files finished
 * before it stay, and a forced restore keeps the file it would have replaced.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pack as tarPack } from "tar-stream";
import type { DestinationCalls } from "../../src/targets/files/destination-io";
import { extractTar } from "../../src/targets/files/extract";
import { testRun } from "../helpers/db";

const FIRST = Buffer.from("complete before the failure\n");
const BIG = randomBytes(3 << 20);

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-unfinished-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A tar of first.txt, then big.bin (3 MiB), then last.txt. */
async function archive(): Promise<Buffer> {
  const pack = tarPack();
  pack.entry({ name: "first.txt", mode: 0o644 }, FIRST);
  pack.entry({ name: "big.bin", mode: 0o644 }, BIG);
  pack.entry({ name: "last.txt", mode: 0o644 }, "after\n");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The archive's bytes up to `bytes`, then the payload fails (a cut-off download, a corrupt frame). */
function cutAfter(tar: Buffer, bytes: number): Readable {
  function* cut() {
    for (let at = 0; at < bytes; at += 64 * 1024) yield tar.subarray(at, Math.min(bytes, at + 64 * 1024));
    throw new Error("payload cut off");
  }
  return Readable.from(cut());
}

/** A destination that fills up once `room` bytes of file content were written. */
function fillsUpAfter(room: number): (calls: DestinationCalls) => DestinationCalls {
  let written = 0;
  return (calls) => ({
    ...calls,
    writev: (fd, buffers, position) => {
      const bytes = buffers.reduce((sum, b) => sum + b.length, 0);
      if (written + bytes > room) {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), {
          code: "ENOSPC",
          syscall: "write",
        });
      }
      written += bytes;
      return calls.writev(fd, buffers, position);
    },
  });
}

test.each(["adaptive", "thread-pool"] as const)(
  "a payload that ends inside a file leaves no part of it (%s calls)",
  async (io) => {
    const out = join(dir, "out");
    await mkdir(out);
    const tar = await archive();
    // Inside big.bin's content: past its header (at 512 + 512 + 512) by ~2 MiB.
    await expect(
      extractTar(cutAfter(tar, 1536 + (2 << 20)), { destination: out, run: testRun(), io }),
    ).rejects.toThrow(/cut off/);
    expect(await readdir(out)).toEqual(["first.txt"]);
    expect(await readFile(join(out, "first.txt"))).toEqual(FIRST);
  },
);

test("a destination that fills up mid-file keeps what it finished, not the file it could not", async () => {
  const out = join(dir, "out");
  await mkdir(out);
  await expect(
    extractTar(Readable.from([await archive()]), {
      destination: out,
      run: testRun(),
      wrapCalls: fillsUpAfter(1 << 20),
    }),
  ).rejects.toMatchObject({ message: expect.stringContaining("ENOSPC") as string });
  expect(await readdir(out)).toEqual(["first.txt"]);
});

test("a forced restore that fails mid-file keeps the file it was replacing, and leaves no staged copy", async () => {
  const out = join(dir, "out");
  await mkdir(out);
  await writeFile(join(out, "big.bin"), "the operator's current file\n");
  await expect(
    extractTar(cutAfter(await archive(), 1536 + (2 << 20)), { destination: out, run: testRun() }),
  ).rejects.toThrow(/cut off/);
  expect((await readdir(out)).sort()).toEqual(["big.bin", "first.txt"]);
  expect(await readFile(join(out, "big.bin"), "utf8")).toBe("the operator's current file\n");
});
