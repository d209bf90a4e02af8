/**
 * A config that gives a target another type than its snapshots were made with (a config rewritten
 * from memory after a disaster): the restore refuses before an adapter reads the payload as its own
 * format, and says so, instead of blaming the snapshot.
 */
import { randomBytes } from "node:crypto";
import { access, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runRestore } from "../../src/engine/restore";
import { removeTree } from "../helpers/fixture-tree";
import { tempDir } from "../helpers/s3-config";
import { backup, context, filesystemDestination, verifyConfig } from "../verify/helpers";

const target = `rtype-${randomBytes(4).toString("hex")}`;
let work: string;

beforeAll(async () => {
  work = await tempDir("haven-restore-type");
  await mkdir(join(work, "destination"));
  await mkdir(join(work, "source"));
  await writeFile(join(work, "source", "notes.txt"), "notes\n");
});

afterAll(async () => {
  if (work) await removeTree(work);
});

test("a files snapshot restored through a sqlite target is refused as a config mismatch", async () => {
  const destination = filesystemDestination(join(work, "destination"));
  const files = verifyConfig(destination, [
    `${target}:`,
    "  type: files",
    `  path: ${JSON.stringify(join(work, "source"))}`,
  ]);
  const id = await backup(files, target);
  const sqlite = verifyConfig(destination, [
    `${target}:`,
    "  type: sqlite",
    `  path: ${JSON.stringify(join(work, "app.db"))}`,
  ]);
  const to = join(work, "restored.db");
  await expect(
    runRestore(sqlite, { target, to: { kind: "path", path: to } }, context()),
  ).rejects.toMatchObject({
    code: "CONFIG",
    message: `snapshot ${id} of ${target} is a files snapshot, but the config's ${target} is a sqlite target`,
  });
  await expect(access(to)).rejects.toThrow();
});
