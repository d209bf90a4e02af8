/**
 * A files snapshot whose index object is lost or damaged, its data intact: a restore that starts
 * from nothing goes on without file-by-file checks (the data's own sha256 still proves every byte)
 * and says so; one over existing files refuses, since there the index is what keeps a damaged
 * archive from replacing a good file. Before, both refused, though the data object, perhaps the
 * last copy there is, was whole.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readManifest } from "../../src/catalog/catalog";
import type { HavenConfig } from "../../src/config/types";
import { runRestore } from "../../src/engine/restore";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { compareTrees, removeTree } from "../helpers/fixture-tree";
import { tempDir } from "../helpers/s3-config";
import { backup, context, filesystemDestination, verifyConfig } from "../verify/helpers";

const target = `noidx-${randomBytes(4).toString("hex")}`;
let work: string;
let source: string;
let cfg: HavenConfig;
let snapshotId: string;
let indexPath: string;
let pristineIndex: Buffer;

beforeAll(async () => {
  work = await tempDir("haven-restore-no-index");
  await mkdir(join(work, "destination")); // the destination's root: Haven never creates it
  source = join(work, "source");
  await mkdir(join(source, "docs"), { recursive: true });
  for (let i = 0; i < 10; i++) await writeFile(join(source, "docs", `note-${i}.txt`), `note ${i}\n`);
  await writeFile(join(source, "ledger.bin"), randomBytes(300_000));
  cfg = verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: files",
    `  path: ${JSON.stringify(source)}`,
  ]);
  snapshotId = await backup(cfg, target);
  const storage = createStorage(cfg.destinations.primary!, silentLogger);
  const manifest = await readManifest(storage, target, snapshotId);
  await storage.close();
  const index = manifest.payload.find((object) => object.stream === "index");
  indexPath = join(work, "destination", index!.key);
  pristineIndex = await readFile(indexPath);
}, 60_000);

afterEach(async () => {
  await writeFile(indexPath, pristineIndex);
});

afterAll(async () => {
  if (work) await removeTree(work);
});

async function restoreInto(into: string, force = false) {
  return runRestore(
    cfg,
    { target, snapshot: snapshotId, to: { kind: "path", path: join(work, into) }, force },
    context(),
  );
}

test("with the index object gone, a restore into a new folder restores every byte and says what it could not check", async () => {
  await rename(indexPath, `${indexPath}.gone`);
  try {
    const result = await restoreInto("no-index");
    expect(await compareTrees(source, join(work, "no-index"))).toEqual([]);
    expect(result.warnings).toEqual([
      expect.stringMatching(/file index cannot be used \(.*missing.*\): files are not checked one by one/),
    ]);
  } finally {
    await rename(`${indexPath}.gone`, indexPath);
  }
});

test("with the index damaged, the same; over existing files the restore refuses and points to an empty folder", async () => {
  const damaged = Buffer.from(pristineIndex);
  damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
  await writeFile(indexPath, damaged);

  const result = await restoreInto("damaged-index");
  expect(await compareTrees(source, join(work, "damaged-index"))).toEqual([]);
  expect(result.warnings).toHaveLength(1);

  const existing = join(work, "existing");
  await mkdir(existing);
  await writeFile(join(existing, "ledger.bin"), "the operator's file\n");
  await expect(restoreInto("existing", true)).rejects.toMatchObject({
    message: expect.stringContaining("refusing to restore over existing files without it") as string,
    hint: expect.stringContaining("restore into an empty directory with --to") as string,
  });
  expect(await readFile(join(existing, "ledger.bin"), "utf8")).toBe("the operator's file\n");
});

test("an intact index: no warning, every file checked", async () => {
  const result = await restoreInto("intact");
  expect(result.warnings).toEqual([]);
  expect(result.stats).toMatchObject({ verified: 11 });
});
