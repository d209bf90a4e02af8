/**
 * Restore tests of a mysql target on the machine's MariaDB (snapshots made by the real engine into a
 * filesystem destination): the dump loads into a temporary schema `haven_verify_<target>_<random>`,
 * row counts per table and YAML SQL checks run there, and the schema is gone afterwards, also when a
 * check fails and when the test is cancelled mid-restore.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { runRestoreTest } from "../../src/verify/restore-test";
import { MARIADB, mariadb } from "../helpers/db";
import { tempDir } from "../helpers/s3-config";
import {
  backup,
  check,
  context,
  expectMeasured,
  filesystemDestination,
  leftoverDatabases,
  readRecord,
  verifyConfig,
} from "./helpers";

const suffix = randomBytes(4).toString("hex");
const source = `vmsrc_${suffix}`;
const target = `vmy-${suffix}`;
const scratchPrefix = `haven_verify_vmy_${suffix}_`;
const ITEMS = 100_000;
let work: string;

function config(verify: string[] = []): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: mysql",
    `  url: mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}/${source}`,
    ...(verify.length > 0 ? ["  verify:", ...verify.map((l) => `    ${l}`)] : []),
  ]);
}

async function scratchSchemas(): Promise<string[]> {
  const out = await mariadb(
    `select SCHEMA_NAME from information_schema.SCHEMATA where left(SCHEMA_NAME, ${scratchPrefix.length}) = '${scratchPrefix}'`,
  );
  return out === "" ? [] : out.split("\n");
}

beforeAll(async () => {
  work = await tempDir("haven-verify-mysql");
  await mkdir(join(work, "destination")); // the destination's root: Haven never creates it
  await mariadb(`
    create database ${source} character set utf8mb4;
    use ${source};
    create table items (id int primary key auto_increment, name varchar(100), note text);
    insert into items (name, note)
      select concat('item ', seq), repeat(md5(seq), 3) from seq_1_to_${ITEMS};
    create table empty_one (id int);
    create table tags (tag varchar(20) primary key);
    insert into tags values ('red'), ('green');
  `);
  await backup(config(), target);
}, 120_000);

afterAll(async () => {
  await mariadb(`drop database if exists ${source}`);
  for (const name of await scratchSchemas()) await mariadb(`drop database if exists \`${name}\``);
  if (work) await rm(work, { recursive: true, force: true });
});

test("passes: row counts per table and the YAML check hold in a scratch schema that is gone afterwards", async () => {
  const cfg = config(["checks:", "  - sql: select count(*) from tags", "    equals: 2"]);
  const result = await runRestoreTest(cfg, { target }, context());
  expect(result.result).toBe("passed");
  const stored = await readRecord(cfg, result.recordKey);
  expectMeasured(stored);
  expect(stored.restore.scratch).toContain(`/${scratchPrefix}`);
  expect(check(stored, `rows in ${source}.items`)).toMatchObject({
    ok: true,
    expected: ITEMS,
    actual: ITEMS,
  });
  expect(check(stored, `rows in ${source}.empty_one`)).toMatchObject({ ok: true, expected: 0, actual: 0 });
  expect(check(stored, `rows in ${source}.tags`)).toMatchObject({ ok: true, expected: 2, actual: 2 });
  expect(check(stored, "sql: select count(*) from tags")).toMatchObject({
    ok: true,
    expected: { equals: 2 },
    actual: 2,
  });
  expect(await scratchSchemas()).toEqual([]);
});

test("a failing YAML check fails the test with expected and actual; the scratch schema is dropped", async () => {
  const cfg = config(["checks:", "  - sql: select count(*) from items", `    atLeast: ${ITEMS + 1}`]);
  const result = await runRestoreTest(cfg, { target }, context());
  expect(result.result).toBe("failed");
  expect(check(await readRecord(cfg, result.recordKey), "sql: select count(*) from items")).toMatchObject({
    ok: false,
    expected: { atLeast: ITEMS + 1 },
    actual: ITEMS,
  });
  expect(await scratchSchemas()).toEqual([]);
});

test("cancelled mid-restore: the scratch schema existed and is dropped", async () => {
  const controller = new AbortController();
  let during: Promise<string[]> | undefined;
  const ctx = {
    ...context(controller.signal),
    onProgress: () => {
      during ??= scratchSchemas().finally(() => controller.abort(new Error("operator pressed ^C")));
    },
  };
  const error = await runRestoreTest(config(), { target }, ctx).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isHavenError(error, "CANCELLED")).toBe(true);
  expect(await during).toHaveLength(1);
  expect(await scratchSchemas()).toEqual([]);
});

test("a restore test first drops this target's scratch schemas that crashed tests left, and nothing else", async () => {
  const names = leftoverDatabases(scratchPrefix);
  try {
    for (const name of Object.values(names)) await mariadb(`create database ${name}`);
    await mariadb(`create table ${names.crashed}.t (id int); insert into ${names.crashed}.t values (1);`);
    const result = await runRestoreTest(config(), { target }, context());
    expect(result.result).toBe("passed");
    const { crashed: _crashed, ...kept } = names;
    expect((await scratchSchemas()).sort()).toEqual(Object.values(kept).sort());
  } finally {
    for (const name of Object.values(names)) await mariadb(`drop database if exists ${name}`);
  }
});
