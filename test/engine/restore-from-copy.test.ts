/**
 * The primary destination is gone (a lost bucket, a NAS that will not mount) and a copy is left:
 * the restore that reads the primary by default says where the copies are, and `--from` restores
 * from one, with nothing but the config and the copy's destination.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { copyPending } from "../../src/copy";
import { runRestore, selectSnapshot } from "../../src/engine/restore";
import { compareTrees, removeTree } from "../helpers/fixture-tree";
import { tempDir } from "../helpers/s3-config";
import { backup, context } from "../verify/helpers";

const target = `rcopy-${randomBytes(4).toString("hex")}`;
let work: string;
let cfg: HavenConfig;
let snapshotId: string;

beforeAll(async () => {
  work = await tempDir("haven-restore-from-copy");
  for (const dir of ["primary", "offsite", "source"]) await mkdir(join(work, dir));
  await writeFile(join(work, "source", "ledger.txt"), "the only copy of the ledger\n");
  cfg = parseConfigText(
    [
      // No Redis answers here: a restore needs none.
      "redis: redis://127.0.0.1:1",
      "destinations:",
      `  primary: { type: filesystem, path: ${JSON.stringify(join(work, "primary"))} }`,
      `  offsite: { type: filesystem, path: ${JSON.stringify(join(work, "offsite"))} }`,
      "targets:",
      `  ${target}:`,
      "    type: files",
      `    path: ${JSON.stringify(join(work, "source"))}`,
      "    destinations: [primary, offsite]",
      "",
    ].join("\n"),
    "<restore-from-copy test>",
    {},
  );
  snapshotId = await backup(cfg, target);
  const report = await copyPending(cfg, target);
  expect(report.copied.map((c) => c.state)).toEqual(["copied"]);
  await rename(join(work, "primary"), join(work, "primary-lost"));
}, 60_000);

afterAll(async () => {
  if (work) await removeTree(work);
});

test("with the primary gone, the restore's error names the destinations that hold copies", async () => {
  await expect(selectSnapshot(cfg, { target }, context())).rejects.toMatchObject({
    hint: expect.stringContaining("--from offsite") as string,
  });
  await expect(
    runRestore(cfg, { target, to: { kind: "path", path: join(work, "unused") } }, context()),
  ).rejects.toMatchObject({ hint: expect.stringContaining("--from offsite") as string });
});

test("--from restores the copy", async () => {
  const to = join(work, "restored");
  const result = await runRestore(
    cfg,
    { target, from: "offsite", to: { kind: "path", path: to } },
    context(),
  );
  expect(result.snapshotId).toBe(snapshotId);
  expect(await compareTrees(join(work, "source"), to)).toEqual([]);
});
