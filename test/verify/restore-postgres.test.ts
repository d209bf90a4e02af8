/**
 * Restore tests of a postgres target on the machine's PostgreSQL (snapshots made by the real engine
 * into a filesystem destination): row counts per table and the YAML SQL checks run in a temporary
 * database `haven_verify_<target>_<random>`, which is gone afterwards: after success, after a failing
 * check, after cancellation mid-restore, and on a separate verification server (`verify.into`).
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { HavenConfig } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { runRestoreTest } from "../../src/verify/restore-test";
import { runVerification } from "../../src/verify/run";
import { provesSnapshotDamaged } from "../../src/verify/damage";
import { PG, psql, startScratchPostgres, type ScratchPostgres } from "../helpers/db";
import { tempDir } from "../helpers/s3-config";
import {
  backup,
  check,
  context,
  expectMeasured,
  filesystemDestination,
  readRecord,
  leftoverDatabases,
  recordKeys,
  verifyConfig,
} from "./helpers";

const suffix = randomBytes(4).toString("hex");
const source = `vsrc_${suffix}`;
const target = `vpg-${suffix}`;
/** Every scratch database of this file's target starts with this. */
const scratchPrefix = `haven_verify_vpg_${suffix}_`;
const ORDERS = 150_000;
let work: string;
let snapshotId: string;

function config(verify: string[] = []): HavenConfig {
  return verifyConfig(filesystemDestination(join(work, "destination")), [
    `${target}:`,
    "  type: postgres",
    `  url: postgres://${PG.user}@${PG.host}:${PG.port}/${source}`,
    ...(verify.length > 0 ? ["  verify:", ...verify.map((l) => `    ${l}`)] : []),
  ]);
}

/** Scratch databases of this file's target on a server. */
async function scratchDatabases(port: number = PG.port, password?: string): Promise<string[]> {
  const out = await psql(
    "postgres",
    `select datname from pg_database where left(datname, ${scratchPrefix.length}) = '${scratchPrefix}'`,
    port,
    password,
  );
  return out === "" ? [] : out.split("\n");
}

beforeAll(async () => {
  work = await tempDir("haven-verify-pg");
  await mkdir(join(work, "destination")); // the destination's root: Haven never creates it
  await psql("postgres", `create database ${source}`);
  await psql(
    source,
    `
    create table public.orders (id bigserial primary key, customer text not null, note text);
    insert into public.orders (customer, note)
      select 'customer ' || g, md5(g::text) || md5((g * 3)::text) from generate_series(1, ${ORDERS}) g;
    create table public.empty (id int);
    create schema "Sales";
    create table "Sales"."Region" (name text);
    insert into "Sales"."Region" values ('north'), ('south'), ('east');
    `,
  );
  snapshotId = await backup(config(), target);
}, 120_000);

afterAll(async () => {
  await psql("postgres", `drop database if exists ${source} with (force)`);
  for (const name of await scratchDatabases())
    await psql("postgres", `drop database if exists "${name}" with (force)`);
  if (work) await rm(work, { recursive: true, force: true });
});

test("passes: every table's row count and the YAML check hold; phases are recorded; the database is gone", async () => {
  const cfg = config(["checks:", "  - sql: select count(*) from orders", "    atLeast: 1"]);
  const result = await runVerification(cfg, { target }, context());
  expect(result).toMatchObject({ kind: "restore", result: "passed", snapshotId });

  const stored = await readRecord(cfg, result.recordKey);
  expectMeasured(stored);
  expect(stored.restore.scratch).toMatch(
    new RegExp(
      `^postgres database 127\\.0\\.0\\.1:5432/${scratchPrefix}[0-9a-z]{7}_[0-9a-f]{4} as postgres$`,
    ),
  );
  expect(check(stored, "rows in public.orders")).toMatchObject({
    ok: true,
    expected: ORDERS,
    actual: ORDERS,
  });
  expect(check(stored, "rows in public.empty")).toMatchObject({ ok: true, expected: 0, actual: 0 });
  expect(check(stored, "rows in Sales.Region")).toMatchObject({ ok: true, expected: 3, actual: 3 });
  expect(check(stored, "sql: select count(*) from orders")).toMatchObject({
    ok: true,
    expected: { atLeast: 1 },
    actual: ORDERS,
  });
  expect(await scratchDatabases()).toEqual([]);
});

test("a YAML check that fails (atLeast above the row count) fails the test with expected and actual", async () => {
  const cfg = config([
    "checks:",
    "  - sql: select count(*) from orders",
    "    atLeast: 1000000000",
    "  - sql: select customer from orders where id = 1",
    "    equals: customer 1",
    "  - sql: select count(*) from no_such_table",
  ]);
  const result = await runRestoreTest(cfg, { target }, context());
  expect(result.result).toBe("failed");
  const stored = await readRecord(cfg, result.recordKey);
  expect(stored.result).toBe("failed");
  expect(stored.error).toBeUndefined();
  expect(check(stored, "sql: select count(*) from orders")).toMatchObject({
    ok: false,
    expected: { atLeast: 1_000_000_000 },
    actual: ORDERS,
  });
  expect(check(stored, "sql: select customer from orders where id = 1")).toMatchObject({
    ok: true,
    actual: "customer 1",
  });
  expect(check(stored, "sql: select count(*) from no_such_table").detail).toMatch(
    /could not run: .*no_such_table/,
  );
  expect(check(stored, "rows in public.orders").ok).toBe(true);
  expect(await scratchDatabases()).toEqual([]);
});

test("a restore test past its verify.timeout is stopped: failed, not damage, the database dropped", async () => {
  // A check that would run for ten minutes stands for a restore that hangs. The deadline leaves
  // the restore itself time enough on a loaded CI machine, so that it is the check that is stopped.
  const cfg = config(["timeout: 15s", "checks:", "  - sql: select pg_sleep(600)"]);
  const started = Date.now();
  const result = await runRestoreTest(cfg, { target }, context());
  expect(Date.now() - started).toBeLessThan(90_000);
  const stored = await readRecord(cfg, result.recordKey);
  expect(stored.result).toBe("failed");
  expect(stored.error).toMatchObject({
    code: "TIMEOUT",
    message: expect.stringContaining("did not finish within 15s (verify.timeout)"),
  });
  expect(provesSnapshotDamaged(stored)).toBe(false);
  expect(check(stored, "checks")).toMatchObject({ ok: false });
  expect(await scratchDatabases()).toEqual([]);
});

test("cancelled mid-restore: the scratch database existed, is dropped, and no record is written", async () => {
  const controller = new AbortController();
  let during: Promise<string[]> | undefined;
  const ctx = {
    ...context(controller.signal),
    // At the first bytes pg_restore takes, look for the scratch database, then cancel.
    onProgress: () => {
      during ??= scratchDatabases().finally(() => controller.abort(new Error("operator pressed ^C")));
    },
  };
  const before = await recordKeys(config(), target, snapshotId);
  const error = await runRestoreTest(config(), { target }, ctx).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isHavenError(error, "CANCELLED")).toBe(true);
  expect(await during).toHaveLength(1);
  expect(await scratchDatabases()).toEqual([]);
  expect(await recordKeys(config(), target, snapshotId)).toEqual(before);
});

test("a restore test first drops this target's scratch databases that crashed tests left, and nothing else", async () => {
  const names = leftoverDatabases(scratchPrefix);
  try {
    for (const name of Object.values(names)) await psql("postgres", `create database ${name}`);
    const result = await runRestoreTest(config(), { target }, context());
    expect(result.result).toBe("passed");
    const { crashed: _crashed, ...kept } = names;
    expect((await scratchDatabases()).sort()).toEqual(Object.values(kept).sort());
  } finally {
    for (const name of Object.values(names))
      await psql("postgres", `drop database if exists ${name} with (force)`);
  }
});

describe("on a separate verification server (verify.into)", () => {
  let server: ScratchPostgres;

  beforeAll(async () => {
    server = await startScratchPostgres();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  test("restores there, with the password from the URL, and drops it there", async () => {
    const url = `postgres://postgres:${encodeURIComponent(server.password)}@127.0.0.1:${server.port}/postgres`;
    const cfg = config([`into: ${JSON.stringify(url)}`]);
    const result = await runRestoreTest(cfg, { target }, context());
    expect(result.result).toBe("passed");
    expect(result.restore.scratch).toContain(`127.0.0.1:${server.port}/${scratchPrefix}`);
    expect(JSON.stringify(await readRecord(cfg, result.recordKey))).not.toContain(
      server.password.slice(0, 15),
    );
    expect(check(result, "rows in public.orders")).toMatchObject({ ok: true, actual: ORDERS });
    expect(await scratchDatabases(server.port, server.password)).toEqual([]);
    expect(await scratchDatabases()).toEqual([]);
  });
});
