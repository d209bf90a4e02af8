/**
 * Restore tests of a files target, on a filesystem destination and once on s3rver: the record stored
 * next to the snapshot has every phase timed and every file checked; the scratch directory is gone
 * after success, after a failed check and after a cancellation; a flipped byte fails both the
 * integrity check (naming the object) and the restore test; the freshness guard fails a verification
 * whose newest snapshot is older than the RPO.
 */
import { randomBytes } from "node:crypto";
import { open, readdir, readFile, rm, symlink, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readManifest } from "../../src/catalog/catalog";
import { mainObject } from "../../src/catalog/manifest";
import type { HavenConfig } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { silentLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { createStorage } from "../../src/storage";
import { openPlainStream } from "../../src/engine/read-payload";
import { createScratchPlace, scratchDirPrefix } from "../../src/verify/scratch";
import { runRestoreTest } from "../../src/verify/restore-test";
import { runVerification } from "../../src/verify/run";
import { main } from "../../src/cli/main";
import { testRun } from "../helpers/db";
import { makeFixtureTree, removeTree, type FixtureTree } from "../helpers/fixture-tree";
import { tempDir } from "../helpers/s3-config";
import {
  backup,
  check,
  context,
  expectMeasured,
  filesystemDestination,
  readRecord,
  LONG_AGO,
  recordKeys,
  scratchStamp,
  verifyConfig,
  verifyConfigYaml,
} from "./helpers";

const suffix = randomBytes(4).toString("hex");
const share = `vfiles-${suffix}`;
const big = `vbig-${suffix}`;
const flip = `vflip-${suffix}`;
let work: string;
let tree: FixtureTree;
let destination: string;

function filesTarget(name: string, path: string, extra: string[] = []): string[] {
  return [`${name}:`, "  type: files", `  path: ${JSON.stringify(path)}`, ...extra.map((l) => `  ${l}`)];
}

function config(shareExtra: string[] = []): HavenConfig {
  return verifyConfig(filesystemDestination(destination), [
    ...filesTarget(share, join(work, "share"), shareExtra),
    ...filesTarget(big, join(work, "big"), ["compression: { algorithm: none }"]),
    ...filesTarget(flip, join(work, "flip")),
  ]);
}

/** Scratch directories of `target` left in `parent` (the OS temp dir unless verify.into is set). */
async function leftovers(target: string, parent = tmpdir()): Promise<string[]> {
  return (await readdir(parent)).filter((name) => name.startsWith(scratchDirPrefix(target)));
}

beforeAll(async () => {
  work = await tempDir("haven-verify-files");
  destination = join(work, "destination");
  await mkdir(destination); // the destination's root: Haven never creates it
  tree = await makeFixtureTree(join(work, "share"), { bigFileBytes: 3 * 1024 * 1024 });
  await mkdir(join(work, "big"));
  // Incompressible, so the restore is still streaming when the test cancels it.
  const file = await open(join(work, "big", "blob.bin"), "w");
  for (let i = 0; i < 24; i++) await file.write(randomBytes(1024 * 1024));
  await file.close();
  await mkdir(join(work, "flip"));
  await writeFile(join(work, "flip", "a.txt"), "x".repeat(200_000));
}, 60_000);

afterAll(async () => {
  if (work) await removeTree(work);
});

describe("restore test of a files target", () => {
  let snapshotId: string;

  beforeAll(async () => {
    snapshotId = await backup(config(), share);
  });

  test("passes, checks every file against the index, stores a timed record, removes the scratch dir", async () => {
    const cfg = config([
      "verify:",
      "  checks:",
      `    - { file: ${JSON.stringify(tree.paths.big)}, minSize: 1000 }`,
    ]);
    const result = await runRestoreTest(cfg, { target: share }, context());
    expect(result.result).toBe("passed");
    expect(result.snapshotId).toBe(snapshotId);

    const stored = await readRecord(cfg, result.recordKey);
    expect(stored.result).toBe("passed");
    expectMeasured(stored);
    expect(stored.restore.scratch).toMatch(/^directory /);
    expect(check(stored, "freshness").ok).toBe(true);
    expect(check(stored, "files: size and sha256 against the index")).toMatchObject({
      ok: true,
      actual: { checked: tree.files, mismatches: 0 },
    });
    expect(check(stored, "files: regular files")).toMatchObject({
      ok: true,
      expected: tree.files,
      actual: tree.files,
    });
    expect(check(stored, `file: ${tree.paths.big}`)).toMatchObject({ ok: true, actual: { exists: true } });
    expect(await leftovers(share)).toEqual([]);
  });

  test("a failing file check fails the test with expected and actual; the scratch dir is still removed", async () => {
    const into = join(work, "scratch-into");
    await mkdir(into);
    const cfg = config([
      "verify:",
      `  into: ${JSON.stringify(into)}`,
      "  checks:",
      `    - { file: ${JSON.stringify(tree.paths.zero)}, minSize: 10 }`,
      "    - { file: no/such/file }",
      "    - { file: ../../etc/passwd }",
      "    - { sql: select 1 }",
    ]);
    const result = await runRestoreTest(cfg, { target: share }, context());
    expect(result.result).toBe("failed");
    const stored = await readRecord(cfg, result.recordKey);
    expect(check(stored, `file: ${tree.paths.zero}`)).toMatchObject({
      ok: false,
      expected: { exists: true, minSize: 10 },
      actual: { exists: true, size: 0 },
    });
    expect(check(stored, "file: no/such/file")).toMatchObject({ ok: false, actual: { exists: false } });
    expect(check(stored, "file: ../../etc/passwd")).toMatchObject({ ok: false });
    expect(check(stored, "sql: select 1").detail).toMatch(/need a SQL database/);
    // The built-in checks still passed: only the YAML checks failed.
    expect(check(stored, "files: size and sha256 against the index").ok).toBe(true);
    expect(stored.restore.scratch).toContain(into);
    expect(await readdir(into)).toEqual([]);
  });

  test("the files checks name a changed, a missing and a stray file in the restored tree", async () => {
    // Drive a scratch place by hand so the restored tree can be damaged between restore and checks.
    const cfg = config();
    const storage = createStorage(cfg.destinations.primary!, silentLogger);
    const manifest = await readManifest(storage, share, snapshotId);
    const open = async (stream: string) => {
      const object = manifest.payload.find((o) => o.stream === stream)!;
      return (await openPlainStream(storage, object, { signal: new AbortController().signal })).stream;
    };
    const place = await createScratchPlace(cfg.targets[share]!, silentLogger);
    try {
      await place.restore(await open("data"), testRun(), {});
      const root = place.directory!;
      await writeFile(join(root, tree.paths.unicode), "changed");
      await rm(join(root, tree.paths.script));
      await writeFile(join(root, "stray.txt"), "not in the snapshot");
      const checks = await place.builtInChecks({
        manifest,
        openStream: open,
        signal: new AbortController().signal,
      });
      const files = checks.find((c) => c.name === "files: size and sha256 against the index")!;
      expect(files).toMatchObject({
        ok: false,
        expected: { mismatches: 0 },
        actual: { checked: tree.files, mismatches: 2 },
      });
      expect(files.detail).toContain(`${tree.paths.unicode}: size 7, expected`);
      expect(files.detail).toContain(`${tree.paths.script}: missing`);
      // One missing and one stray file: the count matches by accident, the index check does not.
      expect(checks.find((c) => c.name === "files: regular files")).toMatchObject({ ok: true });
    } finally {
      await place.cleanup();
      await storage.close();
    }
    expect(await leftovers(share)).toEqual([]);
  });
  test("a restore test first removes this target's scratch dirs that crashed tests left, and nothing else", async () => {
    const into = join(work, "sweep-into");
    const outside = join(work, "not-a-scratch-dir");
    await mkdir(outside);
    await writeFile(join(outside, "keep.txt"), "keep");
    const prefix = scratchDirPrefix(share);
    const crashed = `${prefix}${scratchStamp(LONG_AGO())}-AbC123`;
    const kept = [
      // Another worker's test of the same target, still running: young, so it stays.
      `${prefix}${scratchStamp(new Date(Date.now() - 3600_000))}-AbC123`,
      // Target "<this>-eu": its prefix starts with this one's.
      `${prefix}eu-${scratchStamp(LONG_AGO())}-AbC123`,
      // Another program's folder, merely named like one.
      `${prefix}notes`,
      // The format before creation times: age unknown, so it stays.
      `${prefix}AbC123`,
    ];
    for (const name of [crashed, ...kept]) await mkdir(join(into, name, "deep"), { recursive: true });
    await writeFile(join(into, crashed, "deep", "restored.bin"), "x".repeat(1000));
    // A link in the crashed format: not a directory of ours, and what it points to is never entered.
    const link = `${prefix}${scratchStamp(LONG_AGO())}-LiNk12`;
    await symlink(outside, join(into, link));
    const cfg = config(["verify:", `  into: ${JSON.stringify(into)}`]);
    const result = await runRestoreTest(cfg, { target: share }, context());
    expect(result.result).toBe("passed");
    expect((await readdir(into)).sort()).toEqual([...kept, link].sort());
    expect(await readFile(join(outside, "keep.txt"), "utf8")).toBe("keep");
  });
});

describe("cancellation", () => {
  test("aborting once the restore streams removes the scratch dir and writes no record", async () => {
    const cfg = config();
    const snapshotId = await backup(cfg, big);
    const controller = new AbortController();
    const ctx = {
      ...context(controller.signal),
      onProgress: () => controller.abort(new Error("operator pressed ^C")),
    };
    const error = await runRestoreTest(cfg, { target: big }, ctx).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isHavenError(error, "CANCELLED")).toBe(true);
    expect(controller.signal.aborted).toBe(true);
    expect(await leftovers(big)).toEqual([]);
    expect(await recordKeys(cfg, big, snapshotId)).toEqual([]);
  });
});

describe("a flipped byte in a stored object", () => {
  let dataKey: string;
  let snapshotId: string;
  let cfg: HavenConfig;

  beforeAll(async () => {
    cfg = config();
    snapshotId = await backup(cfg, flip);
    const storage = createStorage(cfg.destinations.primary!, silentLogger);
    const manifest = await readManifest(storage, flip, snapshotId);
    await storage.close();
    dataKey = mainObject(manifest).key;
    const path = join(destination, dataKey);
    const bytes = await readFile(path);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(path, bytes);
  });

  test("fails the integrity check, naming the object", async () => {
    const result = await runVerification(cfg, { target: flip, kind: "integrity" }, context());
    expect(result.kind).toBe("integrity");
    expect(result.result).toBe("failed");
    const failed = result.checks.filter((c) => !c.ok);
    expect(failed.length).toBeGreaterThan(0);
    expect(JSON.stringify(failed)).toContain(dataKey);
    const stored = await readRecord(cfg, result.recordKey);
    expect(stored.result).toBe("failed");
  });

  test("fails the restore test, and removes its scratch dir", async () => {
    const result = await runRestoreTest(cfg, { target: flip }, context());
    expect(result.result).toBe("failed");
    expect(result.error?.code).toBe("INTEGRITY");
    expect(check(result, "restore")).toMatchObject({ ok: false });
    expect(check(result, "restore").detail).toContain(dataKey);
    expect(await leftovers(flip)).toEqual([]);
    expect((await readRecord(cfg, result.recordKey)).result).toBe("failed");
  });
});

describe("freshness guard", () => {
  test("with an RPO of 1s and an older newest snapshot, both kinds fail with the freshness check", async () => {
    const cfg = config(["rpo: 1s"]);
    const later = () => new Date(Date.now() + 60_000);
    for (const kind of ["restore", "integrity"] as const) {
      const result = await runVerification(cfg, { target: share, kind, now: later }, context());
      expect(result.kind).toBe(kind);
      expect(result.result).toBe("failed");
      const freshness = check(await readRecord(cfg, result.recordKey), "freshness");
      expect(freshness).toMatchObject({ ok: false, expected: { maxAgeMs: 1000, maxAge: "1s" } });
      expect((freshness.actual as { ageMs: number }).ageMs).toBeGreaterThan(1000);
      expect(freshness.detail).toMatch(/older than the RPO of 1s/);
      // Everything else about the snapshot is fine: only freshness failed.
      expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["freshness"]);
    }
  });
});

describe("haven verify (CLI, in process)", () => {
  async function cli(...args: string[]): Promise<{ code: number; stdout: string }> {
    const path = join(work, `haven-${randomBytes(3).toString("hex")}.yaml`);
    await writeFile(
      path,
      verifyConfigYaml(filesystemDestination(destination), [
        ...filesTarget(share, join(work, "share")),
        ...filesTarget(flip, join(work, "flip")),
      ]),
    );
    let stdout = "";
    const write = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      stdout += chunk.toString();
      return true;
    });
    const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const code = await main(["node", "haven", "-c", path, "--log-level", "silent", "verify", ...args]);
      return { code, stdout };
    } finally {
      write.mockRestore();
      stderr.mockRestore();
    }
  }

  test("--kind restore and --kind integrity; exit 1 with the failed check's values when it fails", async () => {
    const restore = await cli(share, "--kind", "restore");
    expect(restore.code).toBe(0);
    expect(restore.stdout).toMatch(
      /^restore check of .* passed in \d+ ms \(restore \d+ ms, checks \d+ ms, cleanup \d+ ms\)/,
    );

    const integrity = await cli(share, "--kind", "integrity", "-o", "json");
    expect(integrity.code).toBe(0);
    expect(JSON.parse(integrity.stdout)).toMatchObject({ kind: "integrity", result: "passed" });

    const broken = await cli(flip, "--kind", "integrity");
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/FAIL data: read back: stored object .* is corrupt/);
  });
});

describe("restore test from s3rver", () => {
  let s3: S3rverHandle;
  const bucket = `verify-files-${suffix}`;

  beforeAll(async () => {
    s3 = await startS3rver({ buckets: [bucket] });
  });

  afterAll(async () => {
    await s3?.stop();
  });

  test("passes and stores its record in the bucket", async () => {
    const cfg = verifyConfig(
      [
        "type: s3",
        `bucket: ${bucket}`,
        `endpoint: ${s3.endpoint}`,
        `accessKeyId: ${s3.accessKeyId}`,
        `secretAccessKey: ${s3.secretAccessKey}`,
        "partSizeMiB: 5",
      ],
      filesTarget(share, join(work, "share")),
    );
    const snapshotId = await backup(cfg, share);
    const result = await runVerification(cfg, { target: share }, context());
    expect(result).toMatchObject({ kind: "restore", result: "passed", snapshotId });
    expect(await recordKeys(cfg, share, snapshotId)).toEqual([result.recordKey]);
    expectMeasured(await readRecord(cfg, result.recordKey));
    expect(await leftovers(share)).toEqual([]);
  });
});

afterAll(async () => {
  // Belt and braces: a failed assertion above must not leave scratch dirs in the shared temp dir.
  for (const target of [share, big, flip]) {
    for (const name of await leftovers(target))
      await rm(join(tmpdir(), name), { recursive: true, force: true });
  }
});
