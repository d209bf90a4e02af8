/**
 * Pure pieces of the files target: tar headers, entry-path checks, include globs, the adaptive
 * choice between blocking and thread-pool calls, the look-ahead, and the file index's failures.
 */
import type { Stats } from "node:fs";
import { Readable } from "node:stream";
import { AdaptiveCalls } from "../../src/targets/files/adaptive-calls";
import { includeMatcher, normalizeEntryPath, parentPaths } from "../../src/targets/files/entry-path";
import { readFileIndex } from "../../src/targets/files/file-index";
import { readAhead } from "../../src/targets/files/read-ahead";
import { tarHeader } from "../../src/targets/files/tar-header";

function fakeStat(fields: Partial<Stats>): Stats {
  return { mode: 0o100644, uid: 1000, gid: 1000, size: 0, mtimeMs: 1_700_000_000_000, ...fields } as Stats;
}

describe("tarHeader", () => {
  test("plain entries need no pax header; directories get a trailing slash", () => {
    const file = tarHeader({ path: "a/b.txt", type: "file", stat: fakeStat({ size: 5 }) });
    expect(file).toMatchObject({ name: "a/b.txt", type: "file", size: 5, uid: 1000, gid: 1000 });
    expect(file.pax).toBeUndefined();
    expect(file.mode! & 0o7777).toBe(0o644);
    expect(file.mtime).toEqual(new Date(1_700_000_000_000));
    expect(tarHeader({ path: "d", type: "directory", stat: fakeStat({ mode: 0o40755 }) }).name).toBe("d/");
  });

  test("mode 000 stays 000 (tar-stream would turn a falsy mode into 0644)", () => {
    const header = tarHeader({ path: "locked", type: "file", stat: fakeStat({ mode: 0o100000 }) });
    expect(header.mode).not.toBe(0);
    expect(header.mode! & 0o7777).toBe(0);
  });

  test("values beyond ustar go to pax records", () => {
    const big = tarHeader({
      path: "huge.bin",
      type: "file",
      stat: fakeStat({
        size: 9 * 1024 ** 3,
        uid: 3_000_000,
        gid: 4_000_000,
        mtimeMs: Date.UTC(2100, 0, 1) + 250,
      }),
    });
    expect(big.pax).toEqual({
      size: String(9 * 1024 ** 3),
      uid: "3000000",
      gid: "4000000",
      mtime: `${Date.UTC(2100, 0, 1) / 1000}.250000`,
    });
    const old = tarHeader({ path: "old", type: "file", stat: fakeStat({ mtimeMs: Date.UTC(1960, 0, 1) }) });
    expect(old.pax).toEqual({ mtime: String(Date.UTC(1960, 0, 1) / 1000) });
    expect(old.mtime).toEqual(new Date(0));
  });

  test("a non-ASCII symlink target is written as a pax linkpath", () => {
    const link = tarHeader({
      path: "l",
      type: "symlink",
      stat: fakeStat({ mode: 0o120777 }),
      linkTarget: "ünï",
    });
    expect(link).toMatchObject({ linkname: "ünï", size: 0, pax: {} });
    expect(
      tarHeader({ path: "l", type: "symlink", stat: fakeStat({}), linkTarget: "plain" }).pax,
    ).toBeUndefined();
  });
});

describe("entry paths", () => {
  test.each([
    ["a/b", "a/b"],
    ["./a//b/", "a/b"],
    ["./", ""],
    ["a/./b", "a/b"],
    ["..a/b..", "..a/b.."],
  ])("%j is %j", (name, path) => {
    expect(normalizeEntryPath(name)).toEqual({ ok: true, path });
  });

  test.each([["../x"], ["a/../../x"], ["a/.."], ["/etc/passwd"], ["a\0b"]])("%j is refused", (name) => {
    expect(normalizeEntryPath(name)).toMatchObject({ ok: false, reason: expect.any(String) });
  });

  test("parents, outermost first", () => {
    expect(parentPaths("a/b/c")).toEqual(["a", "a/b"]);
    expect(parentPaths("a")).toEqual([]);
  });

  test("include globs match a path or any of its parents; dotfiles included", () => {
    const included = includeMatcher(["docs", "**/*.conf"]);
    expect(included("docs")).toBe(true);
    expect(included("docs/deep/file.txt")).toBe(true);
    expect(included("etc/.hidden/app.conf")).toBe(true);
    expect(included("documents/file.txt")).toBe(false);
    expect(includeMatcher(undefined)("anything")).toBe(true);
    expect(includeMatcher([])("anything")).toBe(true);
  });

  test("include patterns are relative to the root and each remembers whether it matched", () => {
    const included = includeMatcher(["/docs/", "./etc", "Docs", "*.txt"]);
    expect(included("docs/a.txt")).toBe(true);
    expect(included("etc/x")).toBe(true);
    expect(included("top.txt")).toBe(true);
    expect(included("deep/b.txt")).toBe(false);
    expect(included.unmatched()).toEqual(["Docs"]);
    expect(includeMatcher(undefined).unmatched()).toEqual([]);
  });
});

describe("AdaptiveCalls", () => {
  interface Calls {
    open: (path: string) => string;
    read: (path: string) => string;
  }
  const threadPool: Calls = { open: () => "pool", read: () => "pool" };
  /** Calls that take at least `ms` (a busy wait: the point is the measured duration). */
  const blockingTaking = (ms: number): Calls => ({
    open: () => {
      const until = performance.now() + ms;
      while (performance.now() < until);
      return "blocking";
    },
    read: () => "blocking",
  });

  test("stays blocking while the timed calls are fast", () => {
    const switches: number[] = [];
    const adaptive = new AdaptiveCalls(blockingTaking(0), threadPool, {
      mode: "adaptive",
      timed: ["open"],
      slowCallMs: 5,
      onSwitch: (share) => switches.push(share),
    });
    for (let i = 0; i < 300; i++) expect(adaptive.calls.open("x")).toBe("blocking");
    expect(adaptive.blocking).toBe(true);
    expect(switches).toEqual([]);
  });

  test("moves to the thread pool for good after a window of slow calls", () => {
    const switches: number[] = [];
    const adaptive = new AdaptiveCalls(blockingTaking(0.1), threadPool, {
      mode: "adaptive",
      timed: ["open"],
      slowCallMs: 0.05,
      onSwitch: (share) => switches.push(share),
    });
    for (let i = 0; i < 63; i++) adaptive.calls.open("x");
    expect(adaptive.blocking).toBe(true);
    adaptive.calls.open("x");
    expect(adaptive.blocking).toBe(false);
    expect(adaptive.calls.open("x")).toBe("pool");
    expect(switches).toEqual([1]);
  });

  test("untimed calls never count, and thread-pool mode starts there", () => {
    const adaptive = new AdaptiveCalls(blockingTaking(0.1), threadPool, {
      mode: "adaptive",
      timed: ["read"],
      slowCallMs: 0.05,
      onSwitch: () => undefined,
    });
    for (let i = 0; i < 100; i++) adaptive.calls.open("x");
    expect(adaptive.blocking).toBe(true);
    const pool = new AdaptiveCalls(blockingTaking(0), threadPool, {
      mode: "thread-pool",
      timed: [],
      onSwitch: () => undefined,
    });
    expect(pool.calls.open("x")).toBe("pool");
  });
});

describe("readAhead", () => {
  /** An async source, as the tree walk is. */
  async function* numbers(count: number) {
    for (let i = 0; i < count; i++) yield await Promise.resolve(i);
  }
  const releaseNothing = () => Promise.resolve();

  test("keeps order with loads finishing out of order, and at most `window` in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const load = async (n: number) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Later items finish first: a promise chain of decreasing length.
      for (let i = 0; i < 10 - (n % 10); i++) await Promise.resolve();
      inFlight--;
      return n * 2;
    };
    const out: number[] = [];
    for await (const value of readAhead(numbers(50), 4, load, releaseNothing)) out.push(value);
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
  });

  test("releases what was loaded ahead when the consumer stops early", async () => {
    const released: number[] = [];
    for await (const value of readAhead(
      numbers(20),
      5,
      (n) => Promise.resolve(n),
      (n) => {
        released.push(n);
        return Promise.resolve();
      },
    )) {
      if (value === 2) break;
    }
    expect(released.sort((a, b) => a - b)).toEqual([3, 4, 5, 6]);
  });
});

describe("file index", () => {
  test("a corrupt index names what the operator can do: an empty folder, another snapshot, or the standard-tools recipe", async () => {
    const failure = readFileIndex(Readable.from(['{"path":"a","type":"file","sha256":"00"}\n{not json\n']));
    await expect(failure).rejects.toMatchObject({
      code: "INTEGRITY",
      message: "file index line 2 is not valid JSON",
      hint: expect.stringMatching(/empty directory.*--snapshot ID.*manifest\.json.*"restore"/) as string,
    });
    await expect(failure).rejects.not.toMatchObject({
      hint: expect.stringContaining("without verification") as string,
    });
  });
});
