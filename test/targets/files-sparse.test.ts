/**
 * Runs of zeros restore as holes: a sparse file (a VM disk, a preallocated database file) comes back
 * with the same bytes and length and takes no more room than it did, where writing every zero made
 * a 9 GiB image with 4 KiB of data take 9 GiB of the destination.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTarArchive } from "../../src/targets/files/archive";
import { extractTar } from "../../src/targets/files/extract";
import { testRun } from "../helpers/db";

const MiB = 1024 * 1024;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-sparse-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file of `length` bytes, all holes but `data` written at each offset. */
function sparseFile(path: string, length: number, data: Array<[number, string]>): void {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, length);
    for (const [offset, text] of data) writeSync(fd, text, offset);
  } finally {
    closeSync(fd);
  }
}

async function backUpAndRestore(src: string): Promise<string> {
  const archive = createTarArchive({ target: "share", root: src, exclude: [], run: testRun() });
  const out = join(dir, "out");
  await mkdir(out);
  await extractTar(archive.body, { destination: out, run: testRun() });
  await archive.done;
  return out;
}

test("holes stay holes; data around them, a file that ends in a hole and one of zeros alone come back whole", async () => {
  const src = join(dir, "src");
  await mkdir(src);
  sparseFile(join(src, "disk.img"), 24 * MiB, [
    [0, "boot sector"],
    [8 * MiB + 5, "data in the middle"],
  ]);
  sparseFile(join(src, "zeros.bin"), 3 * MiB, []);
  // Zeros inside data, not on a block boundary: written as they are or left as a hole, they read the same.
  const mixed = Buffer.concat([Buffer.alloc(5000, 1), Buffer.alloc(70_000), Buffer.alloc(3000, 2)]);
  await writeFile(join(src, "mixed.bin"), mixed);

  const out = await backUpAndRestore(src);

  for (const name of ["disk.img", "zeros.bin", "mixed.bin"]) {
    // equals(), not toEqual: Jest compares a Buffer byte by byte, for minutes at this size.
    expect((await readFile(join(out, name))).equals(await readFile(join(src, name)))).toBe(true);
  }
  const disk = await stat(join(out, "disk.img"));
  expect(disk.size).toBe(24 * MiB);
  // The two 64 KiB pieces that hold data (and what the file system adds for its extents), where
  // the whole 24 MiB was written out before.
  expect(disk.blocks * 512).toBeLessThanOrEqual(256 * 1024);
  const zeros = await stat(join(out, "zeros.bin"));
  expect(zeros.size).toBe(3 * MiB);
  expect(zeros.blocks).toBe(0);
});
