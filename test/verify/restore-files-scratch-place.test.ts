/**
 * Where a files target's restore test may put its scratch directory: never inside the share it
 * verifies, where the share's users would see a second copy of it and the next backup would archive it.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { provesSnapshotDamaged } from "../../src/verify/damage";
import { scratchDirPrefix } from "../../src/verify/scratch";
import { runRestoreTest } from "../../src/verify/restore-test";
import { tempDir } from "../helpers/s3-config";
import { backup, context, filesystemDestination, readRecord, verifyConfig } from "./helpers";

const target = `vplace-${randomBytes(4).toString("hex")}`;
let work: string;

function config(into: string): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: files",
    `  path: ${JSON.stringify(join(work, "share"))}`,
    "  verify:",
    `    into: ${JSON.stringify(into)}`,
  ]);
}

beforeAll(async () => {
  work = await tempDir("haven-verify-place");
  await mkdir(join(work, "destination"));
  await mkdir(join(work, "share", "spool"), { recursive: true });
  await writeFile(join(work, "share", "a.txt"), "a".repeat(10_000));
  await symlink(join(work, "share", "spool"), join(work, "alias"));
  await backup(config(join(work, "share", "spool")), target);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test.each([
  ["a folder of the share", () => join(work, "share", "spool")],
  ["the share itself", () => join(work, "share")],
  ["a link to a folder of the share", () => join(work, "alias")],
])(
  "verify.into naming %s: refused, nothing written there, the snapshot not called damaged",
  async (_, into) => {
    const cfg = config(into());
    let seen: string[] = [];
    const ctx = {
      ...context(),
      onProgress: () => void readdir(join(work, "share", "spool")).then((names) => (seen = names)),
    };
    const result = await runRestoreTest(cfg, { target }, ctx);
    const stored = await readRecord(cfg, result.recordKey);
    expect(stored.result).toBe("failed");
    expect(stored.error?.message).toMatch(/inside .*share/);
    expect(provesSnapshotDamaged(stored)).toBe(false);
    expect(seen.filter((n) => n.startsWith(scratchDirPrefix(target)))).toEqual([]);
    for (const dir of [join(work, "share"), join(work, "share", "spool")])
      expect((await readdir(dir)).filter((n) => n.startsWith(scratchDirPrefix(target)))).toEqual([]);
  },
);

test("verify.into outside the share: passes", async () => {
  await mkdir(join(work, "elsewhere"), { recursive: true });
  const result = await runRestoreTest(config(join(work, "elsewhere")), { target }, context());
  expect(result.result).toBe("passed");
});
