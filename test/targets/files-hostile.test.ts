/**
 * Restore of hostile archives, built by hand with tar-stream: nothing may be written outside the
 * destination, each refused entry is reported with its reason, and the safe entries are still restored.
 */
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pack as tarPack } from "tar-stream";
import type { TargetConfigOf } from "../../src/config/types";
import { silentLogger } from "../../src/lib/logger";
import { createFilesAdapter } from "../../src/targets/files/adapter";
import type { RunContext } from "../../src/targets/types";

type Entry = Parameters<ReturnType<typeof tarPack>["entry"]>[0] & { pax?: Record<string, string> };

async function archive(entries: Array<{ header: Entry; data?: string }>): Promise<Buffer> {
  const pack = tarPack();
  for (const { header, data } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (data === undefined) pack.entry(header, done);
      else pack.entry(header, data, done);
    });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const run: RunContext = { signal: new AbortController().signal, logger: silentLogger, warn: () => undefined };
const adapter = createFilesAdapter({
  type: "files",
  name: "share",
  path: "/nonexistent",
  exclude: [],
} as unknown as TargetConfigOf<"files">);

let work: string;
/** Where escapes would land: a sibling of each destination, inside the test's temp dir. */
let outside: string;
let to: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "haven-files-hostile-"));
  outside = join(work, "outside");
  to = join(work, `to-${randomBytes(4).toString("hex")}`);
  await mkdir(outside);
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function restore(tar: Buffer, force = false) {
  return adapter.restore(Readable.from([tar]), { kind: "path", path: to }, run, { force });
}

test("path escapes are refused one by one and the safe entries still restored", async () => {
  const tar = await archive([
    { header: { name: "ok-before.txt" }, data: "fine" },
    { header: { name: "../outside/dotdot" }, data: "evil" },
    { header: { name: "a/b/../../../outside/nested-dotdot" }, data: "evil" },
    { header: { name: join(outside, "absolute") }, data: "evil" },
    { header: { name: "PaxHeader", pax: { path: "../outside/pax-path" } }, data: "evil" },
    { header: { name: "./dir/./ok-after.txt" }, data: "fine too" },
  ]);
  const stats = await restore(tar);

  expect(stats.rejected).toEqual([
    { path: "../outside/dotdot", reason: expect.stringContaining(".."), cause: "archive" },
    { path: "a/b/../../../outside/nested-dotdot", reason: expect.stringContaining(".."), cause: "archive" },
    { path: join(outside, "absolute"), reason: expect.stringContaining("absolute path"), cause: "archive" },
    { path: "../outside/pax-path", reason: expect.stringContaining(".."), cause: "archive" },
  ]);
  expect(stats.files).toBe(2);
  expect(await readdir(outside)).toEqual([]);
  expect(await readFile(join(to, "ok-before.txt"), "utf8")).toBe("fine");
  expect(await readFile(join(to, "dir/ok-after.txt"), "utf8")).toBe("fine too");
});

test("a symlink is restored as a link but never written through", async () => {
  const tar = await archive([
    { header: { name: "link", type: "symlink", linkname: outside } },
    { header: { name: "link/evil" }, data: "evil" },
    { header: { name: "link/sub/", type: "directory" } },
    { header: { name: "rel", type: "symlink", linkname: "../outside" } },
    { header: { name: "rel/evil2", type: "symlink", linkname: "/etc/passwd" } },
    { header: { name: "dir/", type: "directory" } },
    { header: { name: "dir", type: "symlink", linkname: outside } },
    { header: { name: "dir/evil3" }, data: "evil" },
  ]);
  const stats = await restore(tar);

  expect(stats.rejected).toEqual([
    { path: "link/evil", reason: 'parent "link" is a symbolic link', cause: "archive" },
    { path: "link/sub", reason: 'parent "link" is a symbolic link', cause: "archive" },
    { path: "rel/evil2", reason: 'parent "rel" is a symbolic link', cause: "archive" },
    { path: "dir", reason: "a directory is in the way", cause: "archive" },
  ]);
  expect(await readdir(outside)).toEqual([]);
  expect(readlinkSync(join(to, "link"))).toBe(outside);
  expect(readlinkSync(join(to, "rel"))).toBe("../outside");
  expect(lstatSync(join(to, "dir")).isDirectory()).toBe(true);
  expect(await readdir(join(to, "dir"))).toEqual(["evil3"]);
});

test("hard links must point at a regular file restored inside the destination", async () => {
  await writeFile(join(outside, "victim"), "secret");
  const tar = await archive([
    { header: { name: "real.txt" }, data: "real" },
    { header: { name: "good-link", type: "link", linkname: "real.txt" } },
    { header: { name: "up", type: "link", linkname: "../outside/victim" } },
    { header: { name: "abs", type: "link", linkname: join(outside, "victim") } },
    { header: { name: "sym", type: "symlink", linkname: join(outside, "victim") } },
    { header: { name: "via-symlink", type: "link", linkname: "sym" } },
    { header: { name: "missing", type: "link", linkname: "not-there" } },
    { header: { name: "sym2", type: "symlink", linkname: outside } },
    { header: { name: "through-parent", type: "link", linkname: "sym2/victim" } },
  ]);
  const stats = await restore(tar);

  expect(stats.rejected).toEqual([
    { path: "up", reason: expect.stringContaining("outside the destination"), cause: "archive" },
    { path: "abs", reason: expect.stringContaining("outside the destination"), cause: "archive" },
    { path: "via-symlink", reason: "hard link target is not a regular file", cause: "archive" },
    { path: "missing", reason: expect.stringContaining("was not restored"), cause: "archive" },
    {
      path: "through-parent",
      reason: expect.stringContaining('parent "sym2" is a symbolic link'),
      cause: "archive",
    },
  ]);
  expect(lstatSync(join(to, "good-link")).ino).toBe(lstatSync(join(to, "real.txt")).ino);
  expect(lstatSync(join(outside, "victim")).nlink).toBe(1);
  expect(await readFile(join(outside, "victim"), "utf8")).toBe("secret");
});

test("device files and FIFOs are refused", async () => {
  const tar = await archive([
    { header: { name: "null", type: "character-device", devmajor: 1, devminor: 3 } },
    { header: { name: "disk", type: "block-device", devmajor: 8, devminor: 0 } },
    { header: { name: "pipe", type: "fifo" } },
    { header: { name: "plain.txt" }, data: "plain" },
  ]);
  const stats = await restore(tar);
  expect(stats.rejected).toEqual([
    { path: "null", reason: "character-device entries are not restored", cause: "archive" },
    { path: "disk", reason: "block-device entries are not restored", cause: "archive" },
    { path: "pipe", reason: "fifo entries are not restored", cause: "archive" },
  ]);
  expect(await readdir(to)).toEqual(["plain.txt"]);
});

test("with --force, links already in the destination are replaced, never written through", async () => {
  await writeFile(join(outside, "victim"), "secret");
  await mkdir(to);
  await symlink(join(outside, "victim"), join(to, "file.txt"));
  await symlink(outside, join(to, "parent"));
  const tar = await archive([
    { header: { name: "file.txt" }, data: "replaced" },
    { header: { name: "parent/evil" }, data: "evil" },
  ]);
  const stats = await restore(tar, true);

  // The link was there before: the destination kept the entry out, not the archive.
  expect(stats.rejected).toEqual([
    { path: "parent/evil", reason: 'parent "parent" is a symbolic link', cause: "destination" },
  ]);
  expect(lstatSync(join(to, "file.txt")).isFile()).toBe(true);
  expect(await readFile(join(to, "file.txt"), "utf8")).toBe("replaced");
  expect(await readFile(join(outside, "victim"), "utf8")).toBe("secret");
  expect(existsSync(join(outside, "evil"))).toBe(false);
});

test("a forced restore tells what the destination had in the way from what the archive itself holds", async () => {
  await mkdir(join(to, "report.txt"), { recursive: true }); // a directory where the snapshot has a file
  await writeFile(join(to, "docs"), "a file where the snapshot has a folder");
  await symlink(outside, join(to, "data")); // a link where the snapshot has a folder
  const tar = await archive([
    { header: { name: "report.txt" }, data: "report" },
    { header: { name: "docs/readme.txt" }, data: "readme" },
    { header: { name: "data/table.csv" }, data: "1,2" },
    // Hostile even when the destination is not empty: a link, then an entry through it.
    { header: { name: "made", type: "symlink", linkname: outside } },
    { header: { name: "made/evil" }, data: "evil" },
    // A folder, then a file of the same name: both from the archive.
    { header: { name: "twice/", type: "directory" } },
    { header: { name: "twice" }, data: "file" },
  ]);
  const stats = await restore(tar, true);

  expect(stats.rejected).toEqual([
    { path: "report.txt", reason: "a directory is in the way", cause: "destination" },
    { path: "docs/readme.txt", reason: 'parent "docs" is not a directory', cause: "destination" },
    { path: "data/table.csv", reason: 'parent "data" is a symbolic link', cause: "destination" },
    { path: "made/evil", reason: 'parent "made" is a symbolic link', cause: "archive" },
    { path: "twice", reason: "a directory is in the way", cause: "archive" },
  ]);
  expect(await readdir(outside)).toEqual([]);
});

test("into an empty destination, whatever is in the way came from the archive", async () => {
  const tar = await archive([
    { header: { name: "plain" }, data: "a file" },
    { header: { name: "plain/inside" }, data: "under a file" },
  ]);
  const stats = await restore(tar);
  expect(stats.rejected).toEqual([
    { path: "plain/inside", reason: 'parent "plain" is not a directory', cause: "archive" },
  ]);
});

test("garbage instead of a tar fails with INTEGRITY", async () => {
  const garbage = Buffer.concat([Buffer.from("not a tar archive at all"), randomBytes(4096)]);
  await expect(restore(garbage)).rejects.toMatchObject({ code: "INTEGRITY" });
});

test("a link target with a NUL byte and a name too long for this file system are refused one by one", async () => {
  const longName = `${"n".repeat(300)}.txt`; // a component over ext4's 255 bytes
  const tar = await archive([
    { header: { name: "ok-before.txt" }, data: "fine" },
    { header: { name: "nul-link", type: "symlink", linkname: "x", pax: { linkpath: "a\0b" } } },
    { header: { name: `dir/${longName}` }, data: "too long here" },
    { header: { name: `${longName}-dir`, type: "directory" } },
    { header: { name: `${longName}-dir/inside.txt` }, data: "under a name too long" },
    { header: { name: "ok-after.txt" }, data: "fine too" },
  ]);
  const stats = await restore(tar);

  const tooLong = { reason: "name too long for the destination's file system", cause: "destination" };
  expect(stats.rejected).toEqual([
    { path: "nul-link", reason: "symbolic link target contains a NUL byte", cause: "archive" },
    { path: `dir/${longName}`, ...tooLong },
    { path: `${longName}-dir`, ...tooLong },
    { path: `${longName}-dir/inside.txt`, ...tooLong },
  ]);
  expect((await readdir(to)).sort()).toEqual(["dir", "ok-after.txt", "ok-before.txt"]);
  expect(await readFile(join(to, "ok-after.txt"), "utf8")).toBe("fine too");
});

test("a forced restore of a hard link already in place leaves no staged link behind", async () => {
  const tar = await archive([
    { header: { name: "real.txt" }, data: "real" },
    { header: { name: "good-link", type: "link", linkname: "real.txt" } },
  ]);
  await restore(tar);
  const again = await adapter.restore(Readable.from([tar]), { kind: "path", path: to }, run, {
    force: true,
    include: ["good-link"],
  });
  expect(again.files).toBe(1);
  expect((await readdir(to)).sort()).toEqual(["good-link", "real.txt"]);
  expect(lstatSync(join(to, "good-link")).ino).toBe(lstatSync(join(to, "real.txt")).ino);
});
