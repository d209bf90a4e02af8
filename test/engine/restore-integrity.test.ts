/**
 * A restore counts the stored object's bytes but leaves its sha256 alone: the plain stream's sha256,
 * checked after decompression, covers every byte that reaches the files (see read-payload.ts). These
 * tests damage the stored object on a filesystem destination in each way a disk or a copy can (a
 * flipped byte, a lost tail, bytes added) and require `runRestore` to fail with INTEGRITY every time.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { findSnapshot, listSnapshotRefs, readManifest } from "../../src/catalog/catalog";
import { layout, newSnapshotId } from "../../src/catalog/layout";
import { mainObject } from "../../src/catalog/manifest";
import type { HavenConfig } from "../../src/config/types";
import { runRestore } from "../../src/engine/restore";
import { isHavenError } from "../../src/lib/errors";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { compareTrees, removeTree } from "../helpers/fixture-tree";
import { tempDir } from "../helpers/s3-config";
import { backup, context, filesystemDestination, verifyConfig } from "../verify/helpers";

const target = `rint-${randomBytes(4).toString("hex")}`;
let work: string;
let cfg: HavenConfig;
let dataPath: string;
let pristine: Buffer;

beforeAll(async () => {
  work = await tempDir("haven-restore-integrity");
  await mkdir(join(work, "destination")); // the destination's root: Haven never creates it
  const source = join(work, "source");
  await mkdir(join(source, "docs"), { recursive: true });
  // Text-like, so zstd has real frames to damage; random lines, so no two blocks are alike.
  const lines: string[] = [];
  for (let i = 0; i < 60_000; i++) lines.push(`${i} ${randomBytes(24).toString("base64")} settled\n`);
  await writeFile(join(source, "ledger.txt"), lines.join(""));
  for (let i = 0; i < 20; i++) await writeFile(join(source, "docs", `note-${i}.txt`), `note ${i}\n`);
  cfg = verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: files",
    `  path: ${JSON.stringify(source)}`,
  ]);
  const snapshotId = await backup(cfg, target);
  const storage = createStorage(cfg.destinations.primary!, silentLogger);
  const manifest = await readManifest(storage, target, snapshotId);
  await storage.close();
  dataPath = join(work, "destination", mainObject(manifest).key);
  pristine = await readFile(dataPath);
}, 60_000);

afterAll(async () => {
  await writeFile(dataPath, pristine);
  if (work) await removeTree(work);
});

async function restoreWith(stored: Buffer, into: string): Promise<unknown> {
  await writeFile(dataPath, stored);
  const to = join(work, into);
  try {
    await runRestore(cfg, { target, to: { kind: "path", path: to } }, context());
    return to;
  } catch (error) {
    return error;
  }
}

function expectIntegrityError(outcome: unknown): void {
  expect(isHavenError(outcome)).toBe(true);
  expect((outcome as { code: string }).code).toBe("INTEGRITY");
}

test("the undamaged object restores the tree (the damage below is all that differs)", async () => {
  const to = await restoreWith(pristine, "intact");
  expect(typeof to).toBe("string");
  expect(await compareTrees(join(work, "source"), to as string)).toEqual([]);
});

test("a flipped byte in the middle fails with INTEGRITY", async () => {
  expect(pristine.length).toBeGreaterThan(100_000);
  const damaged = Buffer.from(pristine);
  const at = Math.floor(damaged.length / 2);
  damaged[at] = damaged[at]! ^ 0x01;
  expectIntegrityError(await restoreWith(damaged, "flipped"));
});

test("a lost tail fails with INTEGRITY", async () => {
  expectIntegrityError(await restoreWith(pristine.subarray(0, pristine.length - 1000), "truncated"));
});

test("bytes added at the end fail with INTEGRITY, naming the stored object's size", async () => {
  const outcome = await restoreWith(Buffer.concat([pristine, Buffer.alloc(16)]), "appended");
  expectIntegrityError(outcome);
  expect((outcome as Error).message).toMatch(/stored object .* expected \d+ bytes, read \d+/);
});

test("a data object its manifest lists that is gone is named as damage, with the way on", async () => {
  await rm(dataPath);
  let outcome: unknown;
  try {
    await runRestore(cfg, { target, to: { kind: "path", path: join(work, "missing") } }, context());
  } catch (error) {
    outcome = error;
  } finally {
    await writeFile(dataPath, pristine);
  }
  // NOT_FOUND (verification records it as damage), but not "no such snapshot".
  expect(outcome).toMatchObject({ code: "NOT_FOUND" });
  expect((outcome as Error).message).toMatch(
    /is missing from destination primary .*: the snapshot is damaged/,
  );
  expect((outcome as { hint?: string }).hint).toMatch(/--from/);
});

test("a manifest that names another snapshot's objects is refused, so nothing reads them through it", async () => {
  const storage = createStorage(cfg.destinations.primary!, silentLogger);
  try {
    const [ref] = await listSnapshotRefs(storage, target);
    const real = await readManifest(storage, target, ref!.id);
    const forgedId = newSnapshotId(new Date());
    // Moved by hand into another folder, or forged there with its own target and id: either way it
    // names the objects of the real snapshot.
    for (const forged of [real, { ...real, target: "other", id: forgedId }]) {
      await storage.put(layout.manifest("other", forgedId), Readable.from([JSON.stringify(forged)]));
      await expect(readManifest(storage, "other", forgedId)).rejects.toMatchObject({
        code: "INTEGRITY",
        message: expect.stringContaining(`does not describe snapshot ${forgedId} of other`) as unknown,
      });
      await storage.remove([layout.manifest("other", forgedId)]);
    }
  } finally {
    await storage.close();
  }
});

test("a newest snapshot whose manifest cannot be read stops a restore of 'the newest', naming the way on", async () => {
  const storage = createStorage(cfg.destinations.primary!, silentLogger);
  const [ref] = await listSnapshotRefs(storage, target);
  const damagedId = newSnapshotId(new Date(Date.now() + 1000));
  await storage.put(layout.manifest(target, damagedId), Readable.from(['{"formatVersion": 1, "id": "trunc']));
  try {
    const outcome = await restoreWith(pristine, "newest-unreadable");
    expectIntegrityError(outcome);
    expect(outcome).toMatchObject({
      message: expect.stringContaining(
        `snapshot ${damagedId} of ${target} is the newest one asked for`,
      ) as unknown,
      hint: expect.stringContaining(`--snapshot ${ref!.id}`) as unknown,
    });
    // Named explicitly, the older snapshot restores.
    const to = join(work, "older-by-id");
    await runRestore(cfg, { target, snapshot: ref!.id, to: { kind: "path", path: to } }, context());
  } finally {
    await storage.remove([layout.manifest(target, damagedId)]);
    await storage.close();
  }
});

test("a restore cancelled mid-stream fails with CANCELLED (exit 130), whatever broke on the way out", async () => {
  await writeFile(dataPath, pristine);
  const controller = new AbortController();
  const outcome = await runRestore(
    cfg,
    { target, to: { kind: "path", path: join(work, "cancelled") } },
    {
      ...context(),
      signal: controller.signal,
      onProgress: (event) => {
        if (event.bytes > 0) controller.abort();
      },
    },
  ).catch((error: unknown) => error);
  expect(controller.signal.aborted).toBe(true);
  expect(outcome).toMatchObject({ code: "CANCELLED", exitCode: 130 });
});

test("'the newest' is refused when its verification proved it damaged; --snapshot still restores it", async () => {
  await writeFile(dataPath, pristine);
  const storage = createStorage(cfg.destinations.primary!, silentLogger);
  const { id } = await findSnapshot(storage, target);
  const finished = new Date();
  const record = {
    formatVersion: 1,
    kind: "integrity",
    target,
    snapshotId: id,
    result: "failed",
    error: { code: "INTEGRITY", message: "data.tar.zst: sha256 differs from the manifest's" },
    startedAt: new Date(finished.getTime() - 1000).toISOString(),
    finishedAt: finished.toISOString(),
    phases: {},
    totalMs: 1000,
    checks: [],
    host: "test",
  };
  const key = layout.verification(target, id, finished);
  await storage.put(key, Readable.from([Buffer.from(JSON.stringify(record))]));
  try {
    await expect(
      runRestore(cfg, { target, to: { kind: "path", path: join(work, "newest-damaged") } }, context()),
    ).rejects.toMatchObject({
      code: "INTEGRITY",
      message: expect.stringContaining("its verification proved it damaged") as string,
      hint: expect.stringContaining(`--snapshot ${id}`) as string,
    });
    const chosen = await runRestore(
      cfg,
      { target, snapshot: id, to: { kind: "path", path: join(work, "chosen-anyway") } },
      context(),
    );
    expect(chosen.snapshotId).toBe(id);
  } finally {
    await storage.remove([key]);
    await storage.close();
  }
});
