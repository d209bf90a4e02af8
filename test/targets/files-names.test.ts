/**
 * Names that are not UTF-8 (Latin-1 names on an old SMB or NFS share): each such file, directory and
 * symbolic link target is named in a warning that says why it is missing and how to fix it, never
 * reported as "vanished" nor archived under another name; UTF-8 names, ASCII or not, are archived.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTarArchive } from "../../src/targets/files/archive";
import { extractTar } from "../../src/targets/files/extract";
import { testRun } from "../helpers/db";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-names-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `parent/name` with `bytes` in place of each `@`: a path Node can only give as a Buffer. */
function latin1Path(parent: string, name: string, bytes: number[]): Buffer {
  const parts = `${parent}/${name}`.split("@").map((part) => Buffer.from(part));
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from(bytes), part])));
}

test("a file, a directory and a link target that are not UTF-8 are each named in a warning and left out", async () => {
  const src = join(dir, "src");
  await mkdir(src);
  writeFileSync(join(src, "ok.txt"), "plain\n");
  writeFileSync(join(src, "café.txt"), "UTF-8 name\n");
  writeFileSync(latin1Path(src, "caf@.txt", [0xe9]), "Latin-1 name\n");
  mkdirSync(latin1Path(src, "r@sum@s", [0xe9]));
  writeFileSync(Buffer.concat([latin1Path(src, "r@sum@s", [0xe9]), Buffer.from("/inside.txt")]), "x\n");
  symlinkSync(latin1Path("/srv", "caf@", [0xe9]), join(src, "to-latin1"));

  const run = testRun();
  const archive = createTarArchive({ target: "share", root: src, exclude: [], run });
  const out = join(dir, "out");
  await mkdir(out);
  await extractTar(archive.body, { destination: out, run: testRun() });
  const stats = await archive.done;

  expect(stats.files).toBe(2);
  expect((await readdir(out)).sort()).toEqual(["café.txt", "ok.txt"]);
  expect(await readFile(join(out, "café.txt"), "utf8")).toBe("UTF-8 name\n");
  expect(run.warnings.sort()).toEqual([
    expect.stringMatching(/^caf\\xe9\.txt: name is not UTF-8 .* this file is not archived\. Rename it/),
    expect.stringMatching(
      /^r\\xe9sum\\xe9s: name is not UTF-8 .* this directory \(and its contents\) is not archived/,
    ),
    expect.stringMatching(
      /^to-latin1: is a symbolic link to \/srv\/caf\\xe9, which is not UTF-8; not archived/,
    ),
  ]);
  const index = await archive.index();
  const paths: string[] = [];
  for await (const chunk of index) {
    for (const line of (chunk as Buffer).toString("utf8").split("\n").filter(Boolean)) {
      paths.push((JSON.parse(line) as { path: string }).path);
    }
  }
  expect(paths.sort()).toEqual(["café.txt", "ok.txt"]);
});
