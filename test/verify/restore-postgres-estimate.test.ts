/**
 * Restore test of a postgres target whose manifest holds planner estimates (`rowCounts: estimate`),
 * not counts: an estimate that differs from the restored rows is no evidence of damage, a table
 * missing from the restore still is.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { provesSnapshotDamaged } from "../../src/verify/damage";
import { runRestoreTest } from "../../src/verify/restore-test";
import { PG, psql } from "../helpers/db";
import { tempDir } from "../helpers/s3-config";
import { backup, check, context, filesystemDestination, readRecord, verifyConfig } from "./helpers";

const suffix = randomBytes(4).toString("hex");
const source = `vest_${suffix}`;
const target = `vest-${suffix}`;
let work: string;

function config(): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: postgres",
    `  url: postgres://${PG.user}@${PG.host}:${PG.port}/${source}`,
    "  rowCounts: estimate",
  ]);
}

beforeAll(async () => {
  work = await tempDir("haven-verify-pg-estimate");
  await mkdir(join(work, "destination"));
  await psql("postgres", `create database ${source}`);
  // Analysed at 10 rows, then grown: the planner's estimate (10) is stale, as it usually is a little.
  await psql(
    source,
    `create table public.items (id int);
     insert into public.items select g from generate_series(1, 10) g;
     analyze public.items;
     insert into public.items select g from generate_series(11, 500) g;`,
  );
}, 60_000);

afterAll(async () => {
  await psql("postgres", `drop database if exists ${source} with (force)`);
  if (work) await rm(work, { recursive: true, force: true });
});

test("an estimate that differs from the restored rows neither fails the test nor proves damage", async () => {
  const cfg = config();
  await backup(cfg, target);
  const result = await runRestoreTest(cfg, { target }, context());
  const stored = await readRecord(cfg, result.recordKey);
  expect(check(stored, "rows in public.items")).toMatchObject({ ok: true, expected: 10, actual: 500 });
  expect(stored.result).toBe("passed");
  expect(provesSnapshotDamaged(stored)).toBe(false);
});
