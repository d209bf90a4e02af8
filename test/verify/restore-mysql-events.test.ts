/**
 * A MySQL restore test loads the dump into a scratch schema on the target's own server, where the
 * event scheduler runs the events of every schema: the scratch copy's events must arrive disabled,
 * or an event naming the source schema (`insert into shop.t ...`) would run a second time against
 * the live data for as long as the test lasts.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { runRestoreTest } from "../../src/verify/restore-test";
import { MARIADB, mariadb } from "../helpers/db";
import { tempDir } from "../helpers/s3-config";
import { backup, check, context, filesystemDestination, readRecord, verifyConfig } from "./helpers";

const suffix = randomBytes(4).toString("hex");
const source = `vmevt_${suffix}`;
const target = `vmevt-${suffix}`;
let work: string;

const ENABLED_EVENTS =
  "select count(*) from information_schema.EVENTS where EVENT_SCHEMA = database() and STATUS = 'ENABLED'";
const EVENTS = "select count(*) from information_schema.EVENTS where EVENT_SCHEMA = database()";

function config(): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: mysql",
    `  url: mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}/${source}`,
    "  verify:",
    "    checks:",
    `      - { sql: ${JSON.stringify(ENABLED_EVENTS)}, equals: 0 }`,
    `      - { sql: ${JSON.stringify(EVENTS)}, equals: 3 }`,
    "      - { sql: select count(*) from t, equals: 1 }",
  ]);
}

beforeAll(async () => {
  work = await tempDir("haven-verify-mysql-events");
  await mkdir(join(work, "destination"));
  await mariadb(`
    create database ${source};
    use ${source};
    create table t (i int);
    insert into t values (0);
    create event every_minute on schedule every 1 minute do insert into ${source}.t values (1);
    create event once on schedule at now() + interval 1 day on completion preserve enable comment 'ENABLE DO' do insert into t values (2);
    create event off_already on schedule every 1 hour disable do insert into t values (3);
  `);
  await backup(config(), target);
}, 60_000);

afterAll(async () => {
  await mariadb(`drop database if exists ${source}`);
  if (work) await rm(work, { recursive: true, force: true });
});

test("the scratch schema's events are all there, and none is enabled", async () => {
  const cfg = config();
  const result = await runRestoreTest(cfg, { target }, context());
  const stored = await readRecord(cfg, result.recordKey);
  expect(check(stored, `sql: ${EVENTS}`)).toMatchObject({ ok: true, actual: 3 });
  expect(check(stored, `sql: ${ENABLED_EVENTS}`)).toMatchObject({ ok: true, actual: 0 });
  expect(stored.result).toBe("passed");
  // The source's own events are untouched.
  expect(
    await mariadb(
      `select group_concat(EVENT_NAME, ':', STATUS order by EVENT_NAME) from information_schema.EVENTS where EVENT_SCHEMA = '${source}'`,
    ),
  ).toBe("every_minute:ENABLED,off_already:DISABLED,once:ENABLED");
});
