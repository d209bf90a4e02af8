/**
 * Restore onto a destination that folds case and Unicode forms (an SMB share, a macOS volume, ext4
 * with casefold, vfat), from a share that kept `Report.txt` and `report.txt` apart: the second name
 * must not replace the first. This machine's kernel has no such file system (no CONFIG_UNICODE for
 * ext4/tmpfs casefold, no vfat; fusefat has no chmod and no non-ASCII names), so the destination is
 * simulated over a real folder through `wrapCalls`: names are stored folded, the first spelling is
 * what a listing shows, and the timestamps are the real file system's.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pack as tarPack } from "tar-stream";
import { restoreShortfall } from "../../src/cli/restore-outcome";
import { silentLogger } from "../../src/lib/logger";
import type { DestinationCalls } from "../../src/targets/files/destination-io";
import { extractTar, type ExtractOptions } from "../../src/targets/files/extract";
import type { FileIndexEntry } from "../../src/targets/files/file-index";
import type { RunContext } from "../../src/targets/types";

const run: RunContext = { signal: new AbortController().signal, logger: silentLogger, warn: () => undefined };

const fold = (name: string): string => name.normalize("NFC").toLowerCase();

/**
 * A case-preserving, case- and form-insensitive destination over the real folder `root`: every name
 * below it is stored folded; a listing shows the spelling that created it, as SMB and macOS do.
 */
function foldingDestination(root: string): (calls: DestinationCalls) => DestinationCalls {
  const spellings = new Map<string, string>(); // stored path -> the name it was created under
  const stored = (path: string): string =>
    path.startsWith(`${root}/`) ? join(root, fold(path.slice(root.length + 1))) : path;
  const remember = (path: string): void => {
    if (!spellings.has(stored(path))) spellings.set(stored(path), path.slice(path.lastIndexOf("/") + 1));
  };
  const created = <T>(path: string, value: T | Promise<T>): T | Promise<T> => {
    const done = (result: T): T => (remember(path), result);
    return value instanceof Promise ? value.then(done) : done(value);
  };
  return (calls) => ({
    ...calls,
    lstat: (path) => calls.lstat(stored(path)),
    mkdir: (path, mode) => created(path, calls.mkdir(stored(path), mode)),
    unlink: (path) => calls.unlink(stored(path)),
    rename: (from, to) => created(to, calls.rename(stored(from), stored(to))),
    open: (path, flags, mode) => created(path, calls.open(stored(path), flags, mode)),
    symlink: (target, path) => created(path, calls.symlink(target, stored(path))),
    link: (existing, path) => created(path, calls.link(stored(existing), stored(path))),
    lchown: (path, uid, gid) => calls.lchown(stored(path), uid, gid),
    lutimes: (path, atime, mtime) => calls.lutimes(stored(path), atime, mtime),
    chmod: (path, mode) => calls.chmod(stored(path), mode),
    utimes: (path, atime, mtime) => calls.utimes(stored(path), atime, mtime),
    readdir: async (path) => {
      const names = await calls.readdir(stored(path));
      return names.map((name) => spellings.get(join(stored(path), name)) ?? name);
    },
  });
}

async function archive(files: Array<{ name: string; data?: string; type?: "directory" }>): Promise<Buffer> {
  const pack = tarPack();
  for (const { name, data, type } of files) {
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (data === undefined) pack.entry({ name, type }, done);
      else pack.entry({ name, mode: 0o644 }, data, done);
    });
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function indexOf(files: Record<string, string>): Map<string, FileIndexEntry> {
  return new Map<string, FileIndexEntry>(
    Object.entries(files).map(([path, data]) => [
      path,
      {
        path,
        type: "file",
        size: Buffer.byteLength(data),
        mode: 0o644,
        mtime: 0,
        sha256: createHash("sha256").update(data).digest("hex"),
      },
    ]),
  );
}

let to: string;

beforeEach(async () => {
  to = await mkdtemp(join(tmpdir(), "haven-casefold-"));
});

afterEach(async () => {
  await rm(to, { recursive: true, force: true });
});

function extract(tar: Buffer, options: Partial<ExtractOptions> = {}) {
  return extractTar(Readable.from([tar]), {
    destination: to,
    run,
    wrapCalls: foldingDestination(to),
    ...options,
  });
}

const NFC = "caf\u00e9.txt";
const NFD = "cafe\u0301.txt";

test("into an empty folder, a name the destination folds onto one restored before it is refused, not swapped in", async () => {
  const files = { "Report.txt": "upper", "report.txt": "lower", [NFC]: "composed", [NFD]: "decomposed" };
  const tar = await archive([
    ...Object.entries(files).map(([name, data]) => ({ name, data })),
    // A file, then a folder whose name folds onto it, with something inside.
    { name: "Docs", data: "a file" },
    { name: "docs/", type: "directory" },
    { name: "docs/readme.txt", data: "readme" },
  ]);
  // With the index the first of each pair passes its check: before, the second did too, and the
  // restore ended in success with the first file gone.
  const stats = await extract(tar, {
    expected: indexOf({ ...files, Docs: "a file", "docs/readme.txt": "readme" }),
  });

  const first = (name: string) => `${JSON.stringify(name)} was restored first`;
  expect(stats.rejected).toEqual([
    { path: "report.txt", reason: expect.stringContaining(first("Report.txt")), cause: "name-collision" },
    { path: NFD, reason: expect.stringContaining(first(NFC)), cause: "name-collision" },
    { path: "docs", reason: expect.stringContaining(first("Docs")), cause: "name-collision" },
    {
      path: "docs/readme.txt",
      reason: expect.stringMatching(/^parent "docs": "Docs" was restored first/),
      cause: "name-collision",
    },
  ]);
  expect(await readFile(join(to, "report.txt"), "utf8")).toBe("upper");
  expect(await readFile(join(to, fold(NFC)), "utf8")).toBe("composed");
  expect(await readFile(join(to, "docs"), "utf8")).toBe("a file");
  expect(stats.files).toBe(3);
  expect(stats.verified).toBe(3);
  expect((await readdir(to)).sort()).toEqual([fold(NFC), "docs", "report.txt"]);

  // The operator is told what to do with them, not to distrust the snapshot.
  const hint = restoreShortfall(stats.rejected, [])?.hint ?? "";
  expect(hint).toMatch(/^4 entries refused for names this destination's file system does not tell apart/);
  expect(hint).toContain("--to onto a case-sensitive file system");
  expect(hint).toContain("--include PATH");
  expect(hint).not.toContain("inspect");
});

test("a forced restore still replaces what was there before, and keeps what it wrote under another spelling", async () => {
  await writeFile(join(to, "report.txt"), "old report");
  await writeFile(join(to, "notes.txt"), "old notes");
  await mkdir(join(to, "sub"));
  await writeFile(join(to, "sub", "file"), "old file");
  // Written just before: the start's stamp is taken after the destination's clock ticked past them.
  const tar = await archive([
    { name: "Report.txt", data: "upper" },
    { name: "report.txt", data: "lower" },
    { name: "notes.txt", data: "new notes" },
    { name: "SUB/file", data: "new file" },
    { name: "sub/FILE", data: "second spelling" },
  ]);
  const stats = await extract(tar);

  expect(stats.rejected).toEqual([
    {
      path: "report.txt",
      reason: expect.stringContaining('"Report.txt" was restored first'),
      cause: "name-collision",
    },
    {
      path: "sub/FILE",
      reason: expect.stringContaining('"sub/file" was restored first'),
      cause: "name-collision",
    },
  ]);
  // The old files were replaced as before: by the first entry of each name.
  expect(await readFile(join(to, "report.txt"), "utf8")).toBe("upper");
  expect(await readFile(join(to, "notes.txt"), "utf8")).toBe("new notes");
  expect(await readFile(join(to, "sub", "file"), "utf8")).toBe("new file");
  expect(stats.files).toBe(3);
  // No staged file nor the start's probe left behind.
  expect((await readdir(to)).sort()).toEqual(["notes.txt", "report.txt", "sub"]);
});
