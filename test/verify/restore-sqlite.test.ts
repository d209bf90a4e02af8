/**
 * Restore test of a sqlite target: the snapshot is restored to a file in a private temporary
 * directory, row counts and YAML SQL checks run on it read-only, and the directory is gone afterwards.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { sqliteExec } from "../../src/targets/sqlite/cli";
import { runRestoreTest } from "../../src/verify/restore-test";
import { scratchDirPrefix } from "../../src/verify/scratch";
import { tempDir } from "../helpers/s3-config";
import {
  backup,
  check,
  context,
  expectMeasured,
  filesystemDestination,
  readRecord,
  verifyConfig,
} from "./helpers";

const target = `vsqlite-${randomBytes(4).toString("hex")}`;
let work: string;

function config(verify: string[] = []): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: sqlite",
    `  path: ${JSON.stringify(join(work, "app.db"))}`,
    ...(verify.length > 0 ? ["  verify:", ...verify.map((l) => `    ${l}`)] : []),
  ]);
}

async function leftovers(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith(scratchDirPrefix(target)));
}

beforeAll(async () => {
  work = await tempDir("haven-verify-sqlite");
  await mkdir(join(work, "destination")); // the destination's root: Haven never creates it
  await sqliteExec(
    join(work, "app.db"),
    `create table notes (id integer primary key, body text);
     with recursive n(i) as (select 1 union all select i + 1 from n where i < 5000)
       insert into notes (body) select 'note ' || i from n;
     create table "odd name" (x);
     insert into "odd name" values (1), (2);`,
  );
  await backup(config(), target);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test("row counts and SQL checks run on the restored file; a failing check fails; the temp dir is gone", async () => {
  const cfg = config([
    "checks:",
    "  - sql: select count(*) from notes",
    "    atLeast: 5000",
    "  - sql: select body from notes where id = 7",
    "    equals: note 8",
  ]);
  const result = await runRestoreTest(cfg, { target }, context());
  const stored = await readRecord(cfg, result.recordKey);
  expectMeasured(stored);
  expect(check(stored, "rows in main.notes")).toMatchObject({ ok: true, expected: 5000, actual: 5000 });
  expect(check(stored, "rows in main.odd name")).toMatchObject({ ok: true, expected: 2, actual: 2 });
  expect(check(stored, "sql: select count(*) from notes")).toMatchObject({ ok: true, actual: 5000 });
  expect(check(stored, "sql: select body from notes where id = 7")).toMatchObject({
    ok: false,
    expected: { equals: "note 8" },
    actual: "note 7",
  });
  expect(stored.result).toBe("failed");
  expect(await leftovers()).toEqual([]);
});
