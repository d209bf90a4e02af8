/**
 * A directory tree that exercises what a files backup must keep (unicode and spaces in names, a path
 * over 200 bytes, a name over 100 bytes, symlinks inside and pointing outside the tree, empty
 * directories, empty files, a big file, unusual modes and mtimes), and a comparison of two trees that
 * lists every difference. Used by the files adapter tests and the end-to-end tests.
 */
import { randomBytes } from "node:crypto";
import {
  chmod,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";

export interface FixtureTreeOptions {
  /** Size of `big/large.bin`, written in chunks of random bytes (never held in memory whole). */
  bigFileBytes: number;
}

export interface FixtureTree {
  /** Regular files written. */
  files: number;
  /** Their content bytes. */
  bytes: number;
  /** Relative paths of notable entries, for tests that pick some. */
  paths: {
    unicode: string;
    longPath: string;
    longName: string;
    big: string;
    zero: string;
    secret: string;
    script: string;
    linkInside: string;
    linkOutside: string;
    linkToDir: string;
    emptyDir: string;
  };
  /** Target of `paths.linkOutside`: an absolute path outside the tree (it need not exist). */
  outsideTarget: string;
}

const UNICODE_NAME = "ünïcødé – файл 日本語 🙂.txt";
/** 5 + 61 + 61 + 74 = 201 bytes. */
const LONG_PATH = `deep/${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(70)}.txt`;
const LONG_NAME = `long/${"n".repeat(120)}.bin`;

async function writeBigFile(path: string, bytes: number): Promise<void> {
  const file = await open(path, "w");
  try {
    const chunk = 1024 * 1024;
    for (let written = 0; written < bytes; written += chunk) {
      await file.write(randomBytes(Math.min(chunk, bytes - written)));
    }
  } finally {
    await file.close();
  }
}

/** Builds the fixture under `dir` (created if missing; expected empty). */
export async function makeFixtureTree(dir: string, options: FixtureTreeOptions): Promise<FixtureTree> {
  let files = 0;
  let bytes = 0;
  const file = async (rel: string, content: string | Buffer, mode = 0o644) => {
    const abs = join(dir, rel);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, content);
    await chmod(abs, mode);
    files++;
    bytes += Buffer.byteLength(content);
  };

  await mkdir(dir, { recursive: true });
  await file("docs/readme.txt", "hello, world\n");
  await file(`docs/${UNICODE_NAME}`, "unicode names survive\n");
  await file("with spaces/a file with spaces.txt", "spaces\n");
  await file(LONG_PATH, "a path longer than 200 bytes\n");
  await file(LONG_NAME, randomBytes(3000));
  await file("zero.bin", "");
  await file("secret.key", "private\n", 0o600);
  await file("bin/run.sh", "#!/bin/sh\necho run\n", 0o755);
  // setuid and setgid survive only if ownership is restored before the mode (chown clears them).
  await file("bin/setuid-tool", "#!/bin/sh\necho setuid\n", 0o4755);
  await file("bin/setgid-tool", "#!/bin/sh\necho setgid\n", 0o2755);
  await file("private/inner.txt", "inside a 0700 directory\n");
  await chmod(join(dir, "private"), 0o700);
  await file("readonly/inner.txt", "inside a 0555 directory\n", 0o444);
  await file("old.txt", "from 2001\n");
  await utimes(join(dir, "old.txt"), new Date("2001-09-09T01:46:40Z"), new Date("2001-09-09T01:46:40Z"));
  // Beyond ustar's range as tar-stream writes it (int32 seconds): stored in pax records.
  await file("future.txt", "from 2100\n");
  await utimes(join(dir, "future.txt"), new Date("2100-01-01T00:00:00Z"), new Date("2100-01-01T00:00:00Z"));
  await file("past.txt", "from 1960\n");
  await utimes(join(dir, "past.txt"), new Date("1960-01-01T00:00:00Z"), new Date("1960-01-01T00:00:00Z"));
  await file("subsecond.txt", "sub-second mtime\n");
  await utimes(join(dir, "subsecond.txt"), new Date(1_700_000_000_123), new Date(1_700_000_000_123));

  await mkdir(join(dir, "big"), { recursive: true });
  await writeBigFile(join(dir, "big/large.bin"), options.bigFileBytes);
  files++;
  bytes += options.bigFileBytes;

  await mkdir(join(dir, "empty"));
  await mkdir(join(dir, "nested/empty/deeper"), { recursive: true });

  const outsideTarget = `/tmp/haven-fixture-outside-${randomBytes(4).toString("hex")}/nothing-here`;
  await mkdir(join(dir, "links"));
  await symlink("../docs/readme.txt", join(dir, "links/inside"));
  await symlink(outsideTarget, join(dir, "links/outside"));
  await symlink("../docs", join(dir, "links/to-dir"));
  await symlink(`../docs/${UNICODE_NAME}`, join(dir, "links/ünï"));
  await lutimes(
    join(dir, "links/inside"),
    new Date("2010-01-01T00:00:00Z"),
    new Date("2010-01-01T00:00:00Z"),
  );

  // Last, so the contents above do not move it: a directory whose mode forbids writing into it.
  await chmod(join(dir, "readonly"), 0o555);
  await utimes(join(dir, "nested"), new Date("2005-05-05T05:05:05Z"), new Date("2005-05-05T05:05:05Z"));

  return {
    files,
    bytes,
    paths: {
      unicode: `docs/${UNICODE_NAME}`,
      longPath: LONG_PATH,
      longName: LONG_NAME,
      big: "big/large.bin",
      zero: "zero.bin",
      secret: "secret.key",
      script: "bin/run.sh",
      linkInside: "links/inside",
      linkOutside: "links/outside",
      linkToDir: "links/to-dir",
      emptyDir: "empty",
    },
    outsideTarget,
  };
}

export { compareTrees } from "../../src/lib/tree-compare";

/**
 * Removes a tree even where directories were made read-only (as the fixture does), which a plain
 * recursive rm cannot do for a non-root user.
 */
export async function removeTree(dir: string): Promise<void> {
  const unlock = async (path: string): Promise<void> => {
    const stat = await lstat(path).catch(() => undefined);
    if (stat === undefined || !stat.isDirectory()) return;
    await chmod(path, 0o700);
    for (const name of await readdir(path)) await unlock(join(path, name));
  };
  await unlock(dir);
  await rm(dir, { recursive: true, force: true });
}
