/**
 * The files target adapter against the real file system: the backup stream goes straight into a
 * restore (or GNU tar), no storage involved. Each test works in its own random temp directory.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  existsSync,
  futimesSync,
  openSync,
  readdirSync,
  readlinkSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rmdir,
  symlink,
  truncate,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract as tarExtract, pack as tarPack } from "tar-stream";
import type { TargetConfigOf } from "../../src/config/types";
import { silentLogger } from "../../src/lib/logger";
import { createFilesAdapter } from "../../src/targets/files/adapter";
import { createTarArchive, LOOKAHEAD } from "../../src/targets/files/archive";
import { extractTar } from "../../src/targets/files/extract";
import { isMountPoint } from "../../src/targets/files/source-guard";
import { drained } from "../../src/targets/files/tar-writer";
import type { DestinationCalls } from "../../src/targets/files/destination-io";
import type { FileIndexEntry } from "../../src/targets/files/file-index";
import type { RunContext } from "../../src/targets/types";
import { compareTrees, makeFixtureTree, removeTree, type FixtureTree } from "../helpers/fixture-tree";

const MiB = 1024 * 1024;

interface Warning {
  message: string;
  detail?: Record<string, unknown>;
}

function testRun(signal: AbortSignal = new AbortController().signal): {
  run: RunContext;
  warnings: Warning[];
} {
  const warnings: Warning[] = [];
  return {
    run: { signal, logger: silentLogger, warn: (message, detail) => warnings.push({ message, detail }) },
    warnings,
  };
}

/** The adapter reads only name, path and exclude; the config loader fills the rest in real use. */
function filesTarget(
  path: string,
  exclude: string[] = [],
  guard: { mountpoint?: boolean; allowEmpty?: boolean } = {},
): TargetConfigOf<"files"> {
  return { type: "files", name: "share", path, exclude, ...guard } as unknown as TargetConfigOf<"files">;
}

/** Backs `config` up and expects the body and `done` to fail with SOURCE_FAILED matching `expected`. */
async function expectSourceFailed(config: TargetConfigOf<"files">, expected: Record<string, unknown>) {
  const backup = await createFilesAdapter(config).backup(testRun().run);
  await expect(collect(backup.main.body)).rejects.toMatchObject({ code: "SOURCE_FAILED" });
  await expect(backup.done).rejects.toMatchObject({ code: "SOURCE_FAILED", ...expected });
  return backup;
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function indexOf(
  after: (() => Promise<Array<{ name: string; format: string; body: Readable }>>) | undefined,
) {
  const streams = await after!();
  expect(streams.map((s) => [s.name, s.format])).toEqual([["index", "jsonl"]]);
  const text = (await collect(streams[0]!.body)).toString("utf8");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as FileIndexEntry);
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "haven-files-test-"));
});

afterAll(async () => {
  await removeTree(work);
});

/** A fresh directory path under the test's temp dir (not created). */
function scratch(name: string): string {
  return join(work, `${name}-${randomBytes(4).toString("hex")}`);
}

describe("round trip", () => {
  let src: string;
  let fixture: FixtureTree;

  beforeAll(async () => {
    src = scratch("src");
    fixture = await makeFixtureTree(src, { bigFileBytes: 50 * MiB });
  });

  test("backup streamed into restore gives an identical tree, stats and index", async () => {
    const adapter = createFilesAdapter(filesTarget(src));
    const out = scratch("out");
    const { run, warnings } = testRun();

    const backup = await adapter.backup(run);
    expect([backup.main.name, backup.main.format]).toEqual(["data", "tar"]);
    const restored = await adapter.restore(backup.main.body, { kind: "path", path: out }, run);
    const stats = await backup.done;

    expect(warnings).toEqual([]);
    expect(stats).toEqual({ files: fixture.files, bytes: fixture.bytes });
    expect(restored).toMatchObject({ files: fixture.files, bytes: fixture.bytes, rejected: [] });
    expect(await compareTrees(src, out)).toEqual([]);
    expect(readlinkSync(join(out, fixture.paths.linkOutside))).toBe(fixture.outsideTarget);
    expect(existsSync(dirname(fixture.outsideTarget))).toBe(false);

    const index = await indexOf(backup.after);
    const byPath = new Map(index.map((entry) => [entry.path, entry]));
    expect(index.filter((e) => e.type === "file")).toHaveLength(fixture.files);
    expect(byPath.get(fixture.paths.big)).toMatchObject({
      type: "file",
      size: 50 * MiB,
      sha256: sha256(await readFile(join(src, fixture.paths.big))),
    });
    expect(byPath.get(fixture.paths.zero)).toMatchObject({ type: "file", size: 0, sha256: sha256("") });
    expect(byPath.get(fixture.paths.secret)).toMatchObject({ mode: 0o600 });
    expect(byPath.get(fixture.paths.script)).toMatchObject({ mode: 0o755 });
    expect(byPath.get("subsecond.txt")).toMatchObject({ mtime: 1_700_000_000_123 });
    expect(byPath.get(fixture.paths.linkOutside)).toMatchObject({
      type: "symlink",
      linkTarget: fixture.outsideTarget,
    });
    expect(byPath.get(fixture.paths.emptyDir)).toMatchObject({ type: "directory" });
    expect(byPath.has(fixture.paths.longPath)).toBe(true);
    expect(byPath.has(fixture.paths.unicode)).toBe(true);
    // Stable order: a second backup lists the same paths in the same order.
    const again = await adapter.backup(testRun().run);
    await collect(again.main.body);
    expect((await indexOf(again.after)).map((e) => e.path)).toEqual(index.map((e) => e.path));
  });

  test("GNU tar extracts the archive to an identical tree (the manual recipe works)", async () => {
    const out = scratch("gnu");
    await mkdir(out);
    const backup = await createFilesAdapter(filesTarget(src)).backup(testRun().run);
    // The fixture has mtimes in 1960 and 2100 on purpose; GNU tar would warn about them.
    const tar = spawn("tar", ["--warning=no-timestamp", "-xpf", "-", "-C", out], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    tar.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => tar.on("close", resolve));
    await pipeline(backup.main.body, tar.stdin);
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
    await backup.done;
    expect(await compareTrees(src, out)).toEqual([]);
  });

  test("the thread-pool read path produces the same bytes as the adaptive one", async () => {
    const digest = async (io: "adaptive" | "thread-pool") => {
      const archive = createTarArchive({ target: "share", root: src, exclude: [], run: testRun().run, io });
      const hash = createHash("sha256");
      for await (const chunk of archive.body) hash.update(chunk as Buffer);
      await archive.done;
      return hash.digest("hex");
    };
    expect(await digest("thread-pool")).toBe(await digest("adaptive"));
  });

  test("extraction on the thread pool gives the same tree", async () => {
    const out = scratch("pool-out");
    await mkdir(out);
    const { run } = testRun();
    const archive = createTarArchive({ target: "share", root: src, exclude: [], run, io: "thread-pool" });
    const stats = await extractTar(archive.body, { destination: out, run, io: "thread-pool" });
    await archive.done;
    expect(stats).toMatchObject({ files: fixture.files, bytes: fixture.bytes, rejected: [] });
    expect(await compareTrees(src, out)).toEqual([]);
  });

  /** The destination's calls with fchown and lchown failing as `code`; counts the refusals. */
  function refusingOwners(code: string): {
    wrap: (calls: DestinationCalls) => DestinationCalls;
    refused: () => number;
  } {
    let refused = 0;
    const fail = (call: string) => () => {
      refused++;
      throw Object.assign(new Error(`${code}: ${call} refused by the destination`), { code, syscall: call });
    };
    return {
      wrap: (calls) => ({ ...calls, fchown: fail("fchown"), lchown: fail("lchown") }),
      refused: () => refused,
    };
  }

  test.each(["EPERM", "EINVAL"])(
    "a destination that refuses owners (%s: root_squash, an unmapped uid) gets everything else, one warning with the count, no setuid/setgid",
    async (code) => {
      const out = scratch(`no-owners-${code}`);
      await mkdir(out);
      const { run, warnings } = testRun();
      const owners = refusingOwners(code);
      const archive = createTarArchive({ target: "share", root: src, exclude: [], run: testRun().run });
      const stats = await extractTar(archive.body, {
        destination: out,
        run,
        sameOwner: true,
        wrapCalls: owners.wrap,
      });
      await archive.done;

      // Every file, link and directory was refused its owner, and each one is counted.
      expect(owners.refused()).toBeGreaterThan(fixture.files);
      expect(stats).toMatchObject({
        files: fixture.files,
        bytes: fixture.bytes,
        rejected: [],
        ownersNotSet: owners.refused(),
      });
      expect(warnings).toEqual([
        {
          message: expect.stringContaining(
            `could not set the owner of ${owners.refused()} restored entries`,
          ) as string,
          detail: expect.objectContaining({ ownersNotSet: owners.refused(), code }) as Record<
            string,
            unknown
          >,
        },
      ]);
      // The files keep the restoring user as owner: their setuid and setgid bits would now be its own.
      expect((await lstat(join(out, "bin/setuid-tool"))).mode & 0o7777).toBe(0o755);
      expect((await lstat(join(out, "bin/setgid-tool"))).mode & 0o7777).toBe(0o755);
      expect((await compareTrees(src, out)).sort()).toEqual([
        "bin/setgid-tool: mode 2755 vs 755",
        "bin/setuid-tool: mode 4755 vs 755",
      ]);
    },
  );

  test("an ownership error that is not a refusal (EIO) still fails the restore", async () => {
    const out = scratch("owner-eio");
    await mkdir(out);
    const archive = createTarArchive({ target: "share", root: src, exclude: [], run: testRun().run });
    await expect(
      extractTar(archive.body, {
        destination: out,
        run: testRun().run,
        sameOwner: true,
        wrapCalls: refusingOwners("EIO").wrap,
      }),
    ).rejects.toMatchObject({ code: "PERMANENT", message: expect.stringContaining("EIO") as string });
    archive.body.destroy();
    await archive.done.catch(() => undefined);
  });

  test.each(["thread-pool", "adaptive"] as const)(
    "a payload that fails mid-stream rejects the extraction (%s), never crashes the process",
    async (io) => {
      const { run } = testRun();
      const archive = createTarArchive({ target: "share", root: src, exclude: [], run });
      // The first 64 KiB of a real archive, then the source fails (a corrupt or cut-off payload).
      async function* cutOff() {
        let sent = 0;
        for await (const chunk of archive.body) {
          const bytes = chunk as Buffer;
          if (sent + bytes.length > 64 * 1024) break;
          sent += bytes.length;
          yield bytes;
        }
        throw new Error("payload cut off");
      }
      const out = scratch(`cut-${io}`);
      await mkdir(out);
      await expect(extractTar(Readable.from(cutOff()), { destination: out, run, io })).rejects.toThrow(
        /cut off|corrupt|truncated/,
      );
      archive.body.destroy();
      await archive.done.catch(() => undefined);
    },
  );

  test("a file entry cut off while its file is being opened rejects the extraction, never crashes the process", async () => {
    // One 1 MiB file; the payload fails right after its header and first bytes, while the extractor
    // is still creating the file (on the thread pool, as on a slow share).
    const pack = tarPack();
    pack.entry({ name: "big.bin", size: 1 << 20, mode: 0o644 }, Buffer.alloc(1 << 20, 7));
    pack.finalize();
    const whole: Buffer[] = [];
    for await (const chunk of pack) whole.push(chunk as Buffer);
    const start = Buffer.concat(whole).subarray(0, 512 + 4096);
    async function* cutOff() {
      yield start;
      await new Promise((r) => setImmediate(r));
      throw new Error("payload cut off");
    }
    const { run } = testRun();
    const out = scratch("cut-open");
    await mkdir(out);
    await expect(
      extractTar(Readable.from(cutOff()), { destination: out, run, io: "thread-pool" }),
    ).rejects.toThrow(/cut off/);
  });

  test("waiting for room in a tar entry already destroyed fails at once (its close event has passed)", async () => {
    const pack = tarPack();
    const sink = pack.entry({ name: "big.bin", size: 1 << 20 }, () => undefined);
    sink.on("error", () => undefined);
    pack.on("error", () => undefined);
    pack.destroy(new Error("the reader went away"));
    await new Promise((r) => setImmediate(r));
    expect(sink.destroyed).toBe(true);
    await expect(drained(sink)).rejects.toThrow(/closed while writing/);
  });

  test("a reader that stops in the middle of a large file lets the archive settle, closing the file", async () => {
    const { run } = testRun();
    const archive = createTarArchive({ target: "share", root: src, exclude: [], run });
    let seen = 0;
    for await (const chunk of archive.body) {
      seen += (chunk as Buffer).length;
      if (seen > 8 * 1024 * 1024) break; // inside the fixture's 50 MB file
    }
    await expect(archive.done).rejects.toThrow(/closed before its end/);
  });

  test("include globs restore part of the tree, with the parents' archived modes and mtimes", async () => {
    const adapter = createFilesAdapter(filesTarget(src));
    const out = scratch("partial");
    const backup = await adapter.backup(testRun().run);
    const restored = await adapter.restore(backup.main.body, { kind: "path", path: out }, testRun().run, {
      include: ["docs", fixture.paths.longPath, "**/run.sh"],
    });
    await backup.done;

    expect(restored).toMatchObject({ files: 4, rejected: [] });
    const differences = await compareTrees(src, out);
    // Everything in `out` matches the source; what differs is only what was left out.
    expect(differences.filter((d) => !/: only in /.test(d))).toEqual([]);
    expect(differences.filter((d) => d.endsWith(`only in ${out}`))).toEqual([]);
    expect((await readdir(out)).sort()).toEqual(["bin", "deep", "docs"]);
    expect((await readdir(join(out, "docs"))).sort()).toEqual(["readme.txt", "ünïcødé – файл 日本語 🙂.txt"]);
  });

  test("an include pattern that matches nothing fails the restore naming it; /docs/ and ./docs mean docs", async () => {
    const adapter = createFilesAdapter(filesTarget(src));
    const out = scratch("unmatched");
    const backup = await adapter.backup(testRun().run);
    const failure = adapter.restore(backup.main.body, { kind: "path", path: out }, testRun().run, {
      include: ["/docs/", "./bin/run.sh", "DOCS", "nothing/here"],
    });
    await expect(failure).rejects.toMatchObject({
      code: "USAGE",
      message: expect.stringMatching(
        /--include matched nothing in this snapshot: "DOCS", "nothing\/here" \(the other patterns restored \d+ files\)/,
      ) as string,
    });
    await backup.done;
    expect((await readdir(out)).sort()).toEqual(["bin", "docs"]);
  });

  test("a non-empty destination is refused without force and written into with it", async () => {
    const adapter = createFilesAdapter(filesTarget(src));
    const out = scratch("busy");
    await mkdir(out);
    await writeFile(join(out, "keep.txt"), "mine");

    const first = await adapter.backup(testRun().run);
    const refused = adapter.restore(first.main.body, { kind: "path", path: out }, testRun().run);
    await expect(refused).rejects.toMatchObject({
      code: "REFUSED",
      hint: expect.stringContaining("--force"),
    });
    expect(first.main.body.destroyed).toBe(true);
    expect(await readdir(out)).toEqual(["keep.txt"]);

    const second = await adapter.backup(testRun().run);
    const restored = await adapter.restore(second.main.body, { kind: "path", path: out }, testRun().run, {
      force: true,
      include: ["docs/readme.txt"],
    });
    await second.done;
    expect(restored).toMatchObject({ files: 1 });
    expect((await readdir(out)).sort()).toEqual(["docs", "keep.txt"]);
    expect(await readFile(join(out, "keep.txt"), "utf8")).toBe("mine");
  });

  test("kind original restores into the configured path (refused when not empty)", async () => {
    const original = scratch("original");
    const adapter = createFilesAdapter(filesTarget(original));
    const backup = await createFilesAdapter(filesTarget(src)).backup(testRun().run);
    const restored = await adapter.restore(backup.main.body, { kind: "original" }, testRun().run, {
      include: ["bin/**"],
    });
    expect(restored).toMatchObject({ files: 3 }); // bin/run.sh, bin/setuid-tool, bin/setgid-tool
    expect(await readFile(join(original, "bin/run.sh"), "utf8")).toContain("echo run");

    const again = await createFilesAdapter(filesTarget(src)).backup(testRun().run);
    await expect(adapter.restore(again.main.body, { kind: "original" }, testRun().run)).rejects.toMatchObject(
      {
        code: "REFUSED",
      },
    );

    const third = await createFilesAdapter(filesTarget(src)).backup(testRun().run);
    await expect(
      adapter.restore(third.main.body, { kind: "database", name: "orders" }, testRun().run),
    ).rejects.toMatchObject({ code: "USAGE", hint: expect.stringContaining("--to") });
    expect(third.main.body.destroyed).toBe(true);
  });
});

describe("restore into a share that must be mounted", () => {
  test("refused while nothing is mounted there; done once it is (needs root for mount; CI runs as root)", async () => {
    const share = scratch("mount-point");
    await mkdir(share);
    const config = filesTarget(share, [], { mountpoint: true });
    const src = scratch("mount-src");
    await mkdir(src);
    await writeFile(join(src, "ledger.txt"), "data");
    const backupOf = async () => (await createFilesAdapter(filesTarget(src)).backup(testRun().run)).main.body;

    const body = await backupOf();
    await expect(
      createFilesAdapter(config).restore(body, { kind: "original" }, testRun().run),
    ).rejects.toMatchObject({
      code: "REFUSED",
      hint: expect.stringContaining(`mount the share at ${share}`),
    });
    expect(body.destroyed).toBe(true);
    expect(await readdir(share)).toEqual([]);
    // Elsewhere is fine: the guard is about the share's own place.
    const elsewhere = scratch("mount-elsewhere");
    await createFilesAdapter(config).restore(
      await backupOf(),
      { kind: "path", path: elsewhere },
      testRun().run,
    );
    expect(await readFile(join(elsewhere, "ledger.txt"), "utf8")).toBe("data");

    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "haven-test", share]);
    try {
      await createFilesAdapter(config).restore(await backupOf(), { kind: "original" }, testRun().run);
      expect(await readFile(join(share, "ledger.txt"), "utf8")).toBe("data");
    } finally {
      execFileSync("umount", [share]);
    }
  });
});

describe("index verification on restore", () => {
  let src: string;
  let tar: Buffer;
  let index: Buffer;

  beforeAll(async () => {
    src = scratch("verify-src");
    await makeFixtureTree(src, { bigFileBytes: MiB });
    const backup = await createFilesAdapter(filesTarget(src)).backup(testRun().run);
    tar = await collect(backup.main.body);
    await backup.done;
    index = await collect((await backup.after!())[0]!.body);
  });

  test("every restored file is checked against the index", async () => {
    const out = scratch("verified");
    const restored = await createFilesAdapter(filesTarget(src)).restore(
      Readable.from([tar]),
      { kind: "path", path: out },
      testRun().run,
      { extra: { index: () => Promise.resolve(Readable.from([index])) } },
    );
    expect(restored.verified).toBe(restored.files);
    expect(restored.files).toBeGreaterThan(10);
    expect(await compareTrees(src, out)).toEqual([]);
  });

  test("a file whose bytes changed in the archive fails with INTEGRITY and names it", async () => {
    const corrupt = Buffer.from(tar);
    const at = corrupt.indexOf("hello, world");
    expect(at).toBeGreaterThan(0);
    corrupt[at] = "j".charCodeAt(0);
    const restore = createFilesAdapter(filesTarget(src)).restore(
      Readable.from([corrupt]),
      { kind: "path", path: scratch("corrupt") },
      testRun().run,
      { extra: { index: () => Promise.resolve(Readable.from([index])) } },
    );
    await expect(restore).rejects.toMatchObject({
      code: "INTEGRITY",
      message: expect.stringContaining("docs/readme.txt"),
    });
  });

  test("a forced restore keeps an existing file whose copy in the archive fails verification", async () => {
    const corrupt = Buffer.from(tar);
    corrupt[corrupt.indexOf("hello, world")] = "j".charCodeAt(0);
    const out = scratch("forced-corrupt");
    await mkdir(join(out, "docs"), { recursive: true });
    await writeFile(join(out, "docs/readme.txt"), "precious");
    await writeFile(join(out, "big.old"), "untouched");
    const restore = createFilesAdapter(filesTarget(src)).restore(
      Readable.from([corrupt]),
      { kind: "path", path: out },
      testRun().run,
      { force: true, extra: { index: () => Promise.resolve(Readable.from([index])) } },
    );
    await expect(restore).rejects.toMatchObject({
      code: "INTEGRITY",
      message: expect.stringContaining("docs/readme.txt"),
    });
    expect(await readFile(join(out, "docs/readme.txt"), "utf8")).toBe("precious");
    // The other files are restored as usual.
    expect(
      (await readFile(join(out, "big/large.bin"))).equals(await readFile(join(src, "big/large.bin"))),
    ).toBe(true);
    expect(
      (await readdir(out, { recursive: true })).filter((name) => name.includes(".haven-restore-")),
    ).toEqual([]);
  });

  test("a forced restore replaces existing files and links with the archive's", async () => {
    const out = scratch("forced-replace");
    await mkdir(join(out, "docs"), { recursive: true });
    await mkdir(join(out, "big"), { recursive: true });
    await writeFile(join(out, "docs/readme.txt"), "stale");
    await symlink("/etc/passwd", join(out, "big/large.bin"));
    const forcedRestore = () =>
      createFilesAdapter(filesTarget(src)).restore(
        Readable.from([tar]),
        { kind: "path", path: out },
        testRun().run,
        {
          force: true,
          extra: { index: () => Promise.resolve(Readable.from([index])) },
        },
      );
    const restored = await forcedRestore();
    expect(restored.verified).toBe(restored.files);
    expect(await compareTrees(src, out)).toEqual([]);
    // Restoring over its own result replaces every entry, the symbolic links included.
    const again = await forcedRestore();
    expect(again.files).toBe(restored.files);
    expect(await compareTrees(src, out)).toEqual([]);
  });

  test("a truncated archive leaves the existing file it was replacing as it was", async () => {
    const at = tar.indexOf("big/large.bin");
    expect(at).toBeGreaterThan(0);
    const out = scratch("forced-truncated");
    await mkdir(join(out, "big"), { recursive: true });
    await writeFile(join(out, "big/large.bin"), "precious");
    const restore = createFilesAdapter(filesTarget(src)).restore(
      Readable.from([tar.subarray(0, at + 512 + MiB / 2)]),
      { kind: "path", path: out },
      testRun().run,
      { force: true },
    );
    await expect(restore).rejects.toMatchObject({ code: "INTEGRITY" });
    expect(await readFile(join(out, "big/large.bin"), "utf8")).toBe("precious");
    expect(await readdir(join(out, "big"))).toEqual(["large.bin"]);
  });

  test("a truncated archive fails with INTEGRITY", async () => {
    const restore = createFilesAdapter(filesTarget(src)).restore(
      Readable.from([tar.subarray(0, Math.floor(tar.length / 2) + 100)]),
      { kind: "path", path: scratch("truncated") },
      testRun().run,
    );
    await expect(restore).rejects.toMatchObject({ code: "INTEGRITY" });
  });
});

describe("backup", () => {
  test("exclude globs leave paths out of the archive and the index (directories pruned)", async () => {
    const src = scratch("exclude");
    await makeFixtureTree(src, { bigFileBytes: 0 });
    await writeFile(join(src, "x.tmp"), "tmp");
    await mkdir(join(src, "docs/cache/deep"), { recursive: true });
    await writeFile(join(src, "docs/cache/deep/a.bin"), "cached");
    await writeFile(join(src, "docs/notes.tmp"), "tmp");
    await mkdir(join(src, ".git"));
    await writeFile(join(src, ".git/config"), "[core]");

    const adapter = createFilesAdapter(filesTarget(src, ["**/*.tmp", "**/cache/", ".git", "big/**"]));
    const out = scratch("exclude-out");
    const backup = await adapter.backup(testRun().run);
    await adapter.restore(backup.main.body, { kind: "path", path: out }, testRun().run);
    await backup.done;
    const paths = (await indexOf(backup.after)).map((e) => e.path);

    for (const gone of [
      "x.tmp",
      "docs/notes.tmp",
      "docs/cache",
      "docs/cache/deep/a.bin",
      ".git",
      ".git/config",
      "big",
    ]) {
      expect(paths).not.toContain(gone);
      expect(existsSync(join(out, gone))).toBe(false);
    }
    expect(paths).toContain("docs/readme.txt");
    expect(existsSync(join(out, "docs/readme.txt"))).toBe(true);
  });

  test("files that grow, shrink, change or vanish while archived are warnings, and the tar stays valid", async () => {
    const src = scratch("changing");
    await mkdir(src);
    const size = 16 * MiB;
    await writeFile(join(src, "a-grow.bin"), randomBytes(size));
    await writeFile(join(src, "b-shrink.bin"), randomBytes(size));
    await writeFile(join(src, "c-rewrite.bin"), randomBytes(size));
    // More entries than the look-ahead window, so e-vanish.txt is not opened yet when a-grow.bin starts.
    for (let i = 0; i < LOOKAHEAD + 8; i++)
      await writeFile(join(src, `d-pad-${String(i).padStart(3, "0")}`), "pad");
    await writeFile(join(src, "e-vanish.txt"), "soon gone");

    const { run, warnings } = testRun();
    const archive = createTarArchive({ target: "share", root: src, exclude: [], run });
    const archived = new Map<string, { size: number; bytes: number; tail: number }>();
    const extract = tarExtract();
    extract.on("entry", (header, stream, next) => {
      // Each change happens once the entry's header (with the size from stat) is out, before its data is read.
      if (header.name === "a-grow.bin") {
        appendFileSync(join(src, "a-grow.bin"), "more bytes");
        unlinkSync(join(src, "e-vanish.txt"));
      }
      if (header.name === "b-shrink.bin") truncateSync(join(src, "b-shrink.bin"), 1000);
      if (header.name === "c-rewrite.bin") {
        const fd = openSync(join(src, "c-rewrite.bin"), "r+");
        writeSync(fd, "rewritten", size - 100);
        futimesSync(fd, new Date(), new Date(Date.now() + 100_000));
        closeSync(fd);
      }
      let bytes = 0;
      let tail = -1;
      stream.on("data", (data) => {
        const chunk = data as Buffer;
        bytes += chunk.length;
        tail = chunk[chunk.length - 1] ?? tail;
      });
      stream.on("end", () => {
        archived.set(header.name, { size: header.size, bytes, tail });
        next();
      });
    });
    await pipeline(archive.body, extract);
    const stats = await archive.done;

    expect(warnings.map((w) => [w.detail?.path, w.message])).toEqual([
      ["a-grow.bin", expect.stringContaining("grew while being read")],
      ["b-shrink.bin", expect.stringContaining("shrank while being read")],
      ["c-rewrite.bin", expect.stringContaining("changed while being read")],
      ["e-vanish.txt", expect.stringContaining("vanished")],
    ]);
    expect(archived.get("a-grow.bin")).toMatchObject({ size, bytes: size });
    expect(archived.get("b-shrink.bin")).toMatchObject({ size, bytes: size, tail: 0 });
    expect(archived.has("e-vanish.txt")).toBe(false);
    expect(stats).toEqual({ files: 3 + LOOKAHEAD + 8, bytes: 3 * size + (LOOKAHEAD + 8) * 3 });
    const index = await collect(await archive.index());
    expect(index.toString()).not.toContain("e-vanish.txt");
  });

  test("sockets and FIFOs are left out with a log line, not a warning", async () => {
    const src = scratch("special");
    await mkdir(src);
    await writeFile(join(src, "plain.txt"), "data");
    execFileSync("mkfifo", [join(src, "fifo")]);
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(join(src, "socket"), resolve));
    try {
      const { run, warnings } = testRun();
      const archive = createTarArchive({ target: "share", root: src, exclude: [], run });
      await collect(archive.body);
      expect(await archive.done).toEqual({ files: 1, bytes: 4 });
      expect(warnings).toEqual([]);
      const index = (await collect(await archive.index())).toString();
      expect(index).toContain("plain.txt");
      expect(index).not.toContain("fifo");
      expect(index).not.toContain("socket");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a missing root fails: the body errors and done rejects with SOURCE_FAILED", async () => {
    const missing = scratch("missing");
    const backup = await expectSourceFailed(filesTarget(missing), {
      message: expect.stringContaining("does not exist"),
      hint: expect.stringContaining("targets.share.path"),
    });
    await expect(backup.after!()).rejects.toMatchObject({ code: "SOURCE_FAILED" });
  });

  test("a root that is a file fails with SOURCE_FAILED", async () => {
    const file = scratch("file-root");
    await writeFile(file, "not a directory");
    await expectSourceFailed(filesTarget(file), { message: expect.stringContaining("not a directory") });
  });

  test("an empty source is refused (an unmounted share looks empty) unless allowEmpty", async () => {
    const empty = scratch("empty-root");
    await mkdir(empty);
    await expectSourceFailed(filesTarget(empty), {
      message: expect.stringContaining("is empty"),
      hint: expect.stringContaining("targets.share.allowEmpty: true"),
    });

    const allowed = await createFilesAdapter(filesTarget(empty, [], { allowEmpty: true })).backup(
      testRun().run,
    );
    const tar = await collect(allowed.main.body);
    expect(await allowed.done).toMatchObject({ files: 0 });
    expect(tar.length).toBeGreaterThan(0); // a valid, empty tar
  });

  test("with mountpoint: true, a source that is not a mount point is refused before anything is read", async () => {
    const folder = scratch("not-mounted");
    await mkdir(folder);
    await writeFile(join(folder, "left-on-the-local-disk.txt"), "x");
    const backup = await createFilesAdapter(filesTarget(folder, [], { mountpoint: true })).backup(
      testRun().run,
    );
    await expect(collect(backup.main.body)).rejects.toMatchObject({ code: "SOURCE_FAILED" });
    await expect(backup.done).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("is not a mount point"),
      hint: expect.stringContaining(`mount the share at ${folder}`),
    });
  });

  test("mount points are told from plain folders, through symbolic links too", async () => {
    const folder = scratch("plain");
    await mkdir(folder);
    const link = scratch("link-to-proc");
    await symlink("/proc", link);
    expect(await isMountPoint("/")).toBe(true);
    expect(await isMountPoint("/proc")).toBe(true);
    expect(await isMountPoint(link)).toBe(true);
    expect(await isMountPoint(folder)).toBe(false);
    expect(await isMountPoint(dirname(folder))).toBe(false);
  });

  test("cancelling stops the stream, rejects done with CANCELLED and leaves no file open", async () => {
    const src = scratch("cancel");
    await makeFixtureTree(src, { bigFileBytes: 20 * MiB });
    const controller = new AbortController();
    const archive = createTarArchive({
      target: "share",
      root: src,
      exclude: [],
      run: testRun(controller.signal).run,
    });
    let received = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        if (received > 2 * MiB) controller.abort();
        callback();
      },
    });
    await expect(pipeline(archive.body, sink)).rejects.toMatchObject({ code: "CANCELLED" });
    await expect(archive.done).rejects.toMatchObject({ code: "CANCELLED" });
    const openInSource = readdirSync("/proc/self/fd")
      .map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          return "";
        }
      })
      .filter((target) => target.startsWith(src));
    expect(openInSource).toEqual([]);
  });
});

describe("streams closed early", () => {
  let src: string;

  beforeAll(async () => {
    src = scratch("early");
    await makeFixtureTree(src, { bigFileBytes: 8 * MiB });
  });

  test("a reader that fails mid-stream makes done reject with its error as the cause", async () => {
    const archive = createTarArchive({ target: "share", root: src, exclude: [], run: testRun().run });
    let received = 0;
    const failing = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        callback(received > MiB ? new Error("upload broke") : null);
      },
    });
    await expect(pipeline(archive.body, failing)).rejects.toThrow("upload broke");
    await expect(archive.done).rejects.toMatchObject({
      code: "SOURCE_FAILED",
      message: expect.stringContaining("upload broke"),
    });
  });

  test("a body destroyed before its first read settles done", async () => {
    const backup = await createFilesAdapter(filesTarget(src)).backup(testRun().run);
    backup.main.body.destroy();
    await expect(backup.done).rejects.toMatchObject({ code: "SOURCE_FAILED" });
  });

  test("a run cancelled before the backup starts never reads the source", async () => {
    const controller = new AbortController();
    controller.abort();
    const backup = await createFilesAdapter(filesTarget(src)).backup(testRun(controller.signal).run);
    await expect(collect(backup.main.body)).rejects.toMatchObject({ code: "CANCELLED" });
    await expect(backup.done).rejects.toMatchObject({ code: "CANCELLED" });
  });

  test("cancelling a restore rejects with CANCELLED", async () => {
    const controller = new AbortController();
    const backup = await createFilesAdapter(filesTarget(src)).backup(testRun().run);
    const out = scratch("cancelled-restore");
    let seen = 0;
    const counting = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        if (seen > MiB) controller.abort();
        callback(null, chunk);
      },
    });
    const restore = createFilesAdapter(filesTarget(src)).restore(
      backup.main.body.pipe(counting),
      { kind: "path", path: out },
      testRun(controller.signal).run,
    );
    await expect(restore).rejects.toMatchObject({ code: "CANCELLED" });
    expect(counting.destroyed).toBe(true);
    backup.main.body.destroy(); // .pipe() does not pass the destruction upstream
    await expect(backup.done).rejects.toMatchObject({ code: "SOURCE_FAILED" });
  });
});

describe("fixture helper", () => {
  test("compareTrees reports every kind of difference", async () => {
    const a = scratch("cmp-a");
    const b = scratch("cmp-b");
    await makeFixtureTree(a, { bigFileBytes: 1000 });
    const backup = await createFilesAdapter(filesTarget(a)).backup(testRun().run);
    await createFilesAdapter(filesTarget(b)).restore(
      backup.main.body,
      { kind: "path", path: b },
      testRun().run,
    );
    expect(await compareTrees(a, b)).toEqual([]);

    await chmod(join(b, "secret.key"), 0o644);
    await writeFile(join(b, "docs/readme.txt"), "hello, World\n");
    await utimes(join(b, "old.txt"), new Date("2002-01-01T00:00:00Z"), new Date("2002-01-01T00:00:00Z"));
    await unlink(join(b, "links/outside"));
    await symlink("/elsewhere", join(b, "links/outside"));
    await unlink(join(b, "zero.bin"));
    await writeFile(join(b, "extra.txt"), "");
    await truncate(join(b, "big/large.bin"), 10);
    await rmdir(join(b, "empty"));
    await writeFile(join(b, "empty"), "");

    const differences = await compareTrees(a, b);
    for (const expected of [
      /^secret\.key: mode 600 vs 644$/,
      /^docs\/readme\.txt: content differs$/,
      /^old\.txt: mtime 2001-09-09T01:46:40\.000Z vs 2002-01-01T00:00:00\.000Z$/,
      /^links\/outside: link target .* vs \/elsewhere$/,
      /^zero\.bin: only in /,
      /^extra\.txt: only in /,
      /^big\/large\.bin: size 1000 vs 10$/,
      /^empty: type directory vs file$/,
    ]) {
      expect(differences).toContainEqual(expect.stringMatching(expected));
    }
  });
});

describe("probe and recipe", () => {
  test("probe reports an existing readable directory, a missing path and a file", async () => {
    const dir = scratch("probe");
    await mkdir(dir);
    const signal = new AbortController().signal;
    const empty = await createFilesAdapter(filesTarget(dir)).probe(signal);
    expect(empty.ok).toBe(false);
    expect(empty.checks.find((c) => c.name === "backup would start")).toMatchObject({
      ok: false,
      hint: expect.stringContaining("allowEmpty"),
    });
    const notMounted = await createFilesAdapter(filesTarget(dir, [], { mountpoint: true })).probe(signal);
    expect(notMounted.checks.find((c) => c.name === "backup would start")).toMatchObject({
      ok: false,
      detail: expect.stringContaining("not a mount point"),
    });

    const allowed = await createFilesAdapter(filesTarget(dir, [], { allowEmpty: true })).probe(signal);
    expect(allowed.checks.find((c) => c.name === "backup would start")).toMatchObject({
      ok: true,
      detail: `${dir}: may be empty (allowEmpty)`,
    });

    await writeFile(join(dir, "data.txt"), "x");
    const ok = await createFilesAdapter(filesTarget(dir)).probe(signal);
    expect(ok.ok).toBe(true);
    expect(ok.checks.map((c) => c.name)).toEqual([
      "path exists",
      "is a directory",
      "readable",
      "backup would start",
    ]);

    const missing = await createFilesAdapter(filesTarget(join(dir, "nope"))).probe(signal);
    expect(missing.ok).toBe(false);
    expect(missing.checks[0]).toMatchObject({
      name: "path exists",
      ok: false,
      hint: expect.stringContaining("targets.share.path"),
    });

    const file = await createFilesAdapter(filesTarget(join(dir, "data.txt"))).probe(signal);
    expect(file.ok).toBe(false);
    expect(file.checks.find((c) => c.name === "is a directory")).toMatchObject({ ok: false });
  });

  test("recipe gives the standard-tools pipeline for each compression and encryption", () => {
    const adapter = createFilesAdapter(filesTarget("/srv/share"));
    expect(
      adapter.recipe({
        key: "share/20260101T000000Z-0a0b0c0d/data.tar.zst.age",
        compression: "zstd",
        encrypted: true,
      }),
    ).toContain('age -d -i "$AGE_IDENTITY_FILE" data.tar.zst.age | zstd -dc | tar -xpf - -C /restore/dir');
    expect(adapter.recipe({ key: "s/i/data.tar.zst", compression: "zstd", encrypted: false })).toEqual([
      expect.stringContaining("its sha256 must be the manifest's payload sha256"),
      "sha256sum data.tar.zst",
      "mkdir -p /restore/dir",
      "zstd -dc data.tar.zst | tar -xpf - -C /restore/dir",
    ]);
    expect(adapter.recipe({ key: "s/i/data.tar.gz", compression: "gzip", encrypted: false })).toContain(
      "gzip -dc data.tar.gz | tar -xpf - -C /restore/dir",
    );
    expect(adapter.recipe({ key: "s/i/data.tar", compression: "none", encrypted: false })).toContain(
      "cat data.tar | tar -xpf - -C /restore/dir",
    );
  });
});
