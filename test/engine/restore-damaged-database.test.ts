/**
 * A forced restore of a damaged snapshot over an existing MySQL schema: the dump's first tables are
 * dropped and reloaded before the plain stream's sha256 proves the snapshot damaged at its end, and
 * MySQL cannot roll that back. The operator must be told both: the snapshot is damaged, and the
 * schema is now partly replaced; and not to run the same restore again.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readManifest } from "../../src/catalog/catalog";
import { mainObject } from "../../src/catalog/manifest";
import type { HavenConfig } from "../../src/config/types";
import { runRestore } from "../../src/engine/restore";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { MARIADB, mariadb, uniqueName } from "../helpers/db";
import { removeTree } from "../helpers/fixture-tree";
import { tempDir } from "../helpers/s3-config";
import { backup, context, filesystemDestination, verifyConfig } from "../verify/helpers";

const target = `rdmg-${randomBytes(4).toString("hex")}`;
const source = uniqueName("haven_rdmg_src");
const live = uniqueName("haven_rdmg_live");
let work: string;
let cfg: HavenConfig;

beforeAll(async () => {
  work = await tempDir("haven-restore-damaged-db");
  await mkdir(join(work, "destination"));
  // `a` is dumped first and large enough to reach the client before the end of the stream is read.
  await mariadb(`create database ${source}`);
  await mariadb(
    `create table a (id int primary key, v text);
     insert into a select seq, repeat('x', 1000) from seq_1_to_4000;
     create table z (id int primary key, v text);
     insert into z values (1, 'last row of the dump');`,
    source,
  );
  cfg = verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: mysql",
    `  host: ${MARIADB.host}`,
    `  port: ${MARIADB.port}`,
    `  user: ${MARIADB.user}`,
    `  database: ${source}`,
    // Stored as dumped: the damage below is found by the plain sha256 alone, after the last byte.
    "  compression: { algorithm: none }",
  ]);
  const snapshotId = await backup(cfg, target);
  await runRestore(cfg, { target, to: { kind: "database", name: live } }, context());
  await mariadb(`update ${live}.a set v = 'changed since the backup' where id = 1`);

  const storage = createStorage(cfg.destinations.primary!, silentLogger);
  const manifest = await readManifest(storage, target, snapshotId);
  await storage.close();
  const dataPath = join(work, "destination", mainObject(manifest).key);
  const dump = await readFile(dataPath, "latin1");
  expect(dump).toContain("'last row of the dump'");
  await writeFile(dataPath, dump.replace("'last row of the dump'", "'LAST ROW OF THE DUMP'"), "latin1");
}, 120_000);

afterAll(async () => {
  await mariadb(`drop database if exists ${source}; drop database if exists ${live};`);
  if (work) await removeTree(work);
});

test("says the snapshot is damaged and the schema partly replaced, and not to restore it again", async () => {
  const error: unknown = await runRestore(
    cfg,
    { target, to: { kind: "database", name: live }, force: true },
    context(),
  ).catch((e: unknown) => e);
  expect(error).toMatchObject({
    code: "INTEGRITY",
    message: expect.stringContaining(`schema ${live} is now partly replaced`) as string,
    hint: expect.stringContaining("damaged") as string,
  });
  expect((error as { hint: string }).hint).not.toMatch(/same restore again|snapshot is intact/);
});
