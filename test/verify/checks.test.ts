/** The verification checks as pure functions, against fixed expected results; plus snapshot choice. */
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { snapshotIdTime } from "../../src/catalog/layout";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import {
  countCheck,
  fileCheckResult,
  fileTreeCheck,
  freshnessCheck,
  recordedTables,
  rowCountChecks,
  sqlCheckResult,
} from "../../src/verify/checks";
import { evaluateRpo } from "../../src/slo/rpo";
import { scratchDatabaseName } from "../../src/verify/scratch";
import { keyCountTolerance } from "../../src/verify/scratch/redis";
import { chooseSnapshot } from "../../src/verify/select";
import { tempDir } from "../helpers/s3-config";
import { backup, filesystemDestination, verifyConfig } from "./helpers";

describe("freshness", () => {
  const newest = { id: "20260101T000000Z-00000000", finishedAt: "2026-01-01T00:00:00.000Z" };

  test("passes at exactly the RPO and fails one millisecond later, with both values", () => {
    expect(freshnessCheck(newest, 60_000, new Date("2026-01-01T00:01:00.000Z"))).toMatchObject({
      name: "freshness",
      ok: true,
      actual: { ageMs: 60_000 },
    });
    const stale = freshnessCheck(newest, 60_000, new Date("2026-01-01T00:01:00.001Z"));
    expect(stale).toMatchObject({
      ok: false,
      expected: { maxAgeMs: 60_000, maxAge: "1m" },
      actual: { snapshotId: newest.id, finishedAt: newest.finishedAt, ageMs: 60_001, age: "1m" },
    });
    expect(stale.detail).toMatch(/older than the RPO of 1m: backups are failing or not running/);
  });
});

describe("freshness counts from the backup's start, as the RPO does", () => {
  // A 3-hour backup that finished at 02:00 holds data from 23:00 the evening before.
  const long = {
    id: "20251231T230000Z-00000000",
    startedAt: "2025-12-31T23:00:00.000Z",
    finishedAt: "2026-01-01T02:00:00.000Z",
  };
  const rpoMs = 24 * 3_600_000;

  test("the data's age, not the finish's, decides; at the same instant as evaluateRpo", () => {
    const now = new Date("2026-01-01T23:30:00.000Z"); // 21.5 h after the finish, 24.5 h after the start
    const stale = freshnessCheck(long, rpoMs, now);
    const rpo = evaluateRpo({
      target: "t",
      rpoMs,
      now,
      snapshots: [
        {
          id: long.id,
          startedAt: new Date(long.startedAt),
          finishedAt: new Date(long.finishedAt),
          state: "committed",
        },
      ],
    });
    expect(rpo.status).toBe("breached");
    expect(stale).toMatchObject({
      ok: false,
      actual: { snapshotId: long.id, startedAt: long.startedAt, ageMs: rpo.newestAgeMs, age: "1d 30m" },
    });
    expect(stale.detail).toMatch(/holds data 1d 30m old/);
    expect(freshnessCheck(long, rpoMs, new Date("2026-01-01T23:00:00.000Z")).ok).toBe(true);
  });
});

describe("row counts", () => {
  test("one check per recorded table; a missing table fails with actual null", () => {
    const checks = rowCountChecks(
      { "public.a": 3, "public.b": 0, "public.gone": 1 },
      { "public.a": 3, "public.b": 2 },
    );
    expect(checks).toEqual([
      { name: "rows in public.a", ok: true, expected: 3, actual: 3 },
      { name: "rows in public.b", ok: false, expected: 0, actual: 2 },
      {
        name: "rows in public.gone",
        ok: false,
        expected: 1,
        actual: null,
        detail: "the table is missing from the restored database",
      },
    ]);
  });

  test("planner estimates: a count that differs passes, a missing table still fails", () => {
    const checks = rowCountChecks(
      { "public.a": 10, "public.gone": 1 },
      { "public.a": 500 },
      { estimated: true },
    );
    expect(checks.map((c) => [c.name, c.ok, c.actual])).toEqual([
      ["rows in public.a", true, 500],
      ["rows in public.gone", false, null],
    ]);
  });

  test("recorded tables keep numbers only; no tables recorded means no checks", () => {
    expect(recordedTables({ tables: { "a.b": 1, "a.c": "x" } })).toEqual({ "a.b": 1 });
    expect(recordedTables({ files: 3 })).toBeUndefined();
  });
});

describe("YAML sql checks", () => {
  const sql = "select count(*) from t";

  test("atLeast compares the first column as a number (drivers return counts as text)", () => {
    expect(sqlCheckResult({ sql, atLeast: 5 }, "5", true)).toEqual({
      name: `sql: ${sql}`,
      ok: true,
      expected: { atLeast: 5 },
      actual: 5,
    });
    expect(sqlCheckResult({ sql, atLeast: 6 }, "5", true)).toMatchObject({
      ok: false,
      expected: { atLeast: 6 },
      actual: 5,
      detail: "the first column of the first row is less than 6",
    });
    expect(sqlCheckResult({ sql, atLeast: 1 }, "not a number", true)).toMatchObject({
      ok: false,
      actual: "not a number",
    });
  });

  test("equals: numbers as numbers, text as text; both conditions must hold", () => {
    expect(sqlCheckResult({ sql, equals: 2 }, "2", true).ok).toBe(true);
    expect(sqlCheckResult({ sql, equals: "2.0" }, "2", true).ok).toBe(false);
    expect(sqlCheckResult({ sql, equals: "north" }, "north", true)).toMatchObject({
      ok: true,
      actual: "north",
    });
    expect(sqlCheckResult({ sql, atLeast: 1, equals: 3 }, 2, true)).toMatchObject({
      ok: false,
      expected: { atLeast: 1, equals: 3 },
      detail: "the first column of the first row is not equal to 3",
    });
  });

  test("no row fails; a check without a condition only needs a row", () => {
    expect(sqlCheckResult({ sql, atLeast: 0 }, undefined, false)).toMatchObject({
      ok: false,
      actual: null,
      detail: "the query returned no row",
    });
    expect(sqlCheckResult({ sql }, "anything", true)).toMatchObject({ ok: true, expected: { row: true } });
  });
});

describe("file checks", () => {
  test("exists and minSize", () => {
    expect(fileCheckResult({ file: "a", minSize: 10 }, { size: 10, regular: true }).ok).toBe(true);
    expect(fileCheckResult({ file: "a", minSize: 10 }, { size: 9, regular: true })).toMatchObject({
      ok: false,
      expected: { exists: true, minSize: 10 },
      actual: { exists: true, size: 9 },
    });
    expect(fileCheckResult({ file: "a" }, null)).toMatchObject({ ok: false, actual: { exists: false } });
    expect(fileCheckResult({ file: "a" }, { size: 0, regular: false }).detail).toBe("not a regular file");
  });

  test("the tree check names the first five mismatches and counts the rest", () => {
    const mismatches = Array.from({ length: 5 }, (_, i) => ({ path: `f${i}`, reason: "missing" }));
    const result = fileTreeCheck(100, mismatches, 7);
    expect(result).toMatchObject({
      ok: false,
      expected: { mismatches: 0 },
      actual: { checked: 100, mismatches: 7 },
    });
    expect(result.detail).toBe("f0: missing; f1: missing; f2: missing; f3: missing; f4: missing; and 2 more");
    expect(fileTreeCheck(100, [], 0)).toMatchObject({ ok: true });
  });
});

test("scratch database names are safe identifiers within PostgreSQL's 63 bytes, with their creation time", () => {
  const at = new Date("2026-12-06T20:21:10Z");
  expect(scratchDatabaseName("orders-db.eu", at, "1a2b")).toBe("haven_verify_orders_db_eu_0tpn4ja_1a2b");
  const long = scratchDatabaseName("x".repeat(100), at, "1a2b");
  expect(long.length).toBeLessThanOrEqual(63);
  expect(long).toMatch(/^haven_verify_x{32}_0tpn4ja_1a2b$/);
  // 7 base36 digits hold every second until the year 4453: the length never grows.
  expect(scratchDatabaseName("x".repeat(100), new Date("4000-01-01T00:00:00Z"), "1a2b")).toHaveLength(
    long.length,
  );
});

describe("snapshot choice (real engine, filesystem destination)", () => {
  const target = `vchoice-${randomBytes(4).toString("hex")}`;
  let work: string;
  /** In the order they were taken (three backups usually fall in one second). */
  const ids: string[] = [];
  /** In the destination's listing order: by time to the second, then by the random tail. */
  let listed: string[] = [];

  beforeAll(async () => {
    work = await tempDir("haven-verify-choice");
    await mkdir(join(work, "dest")); // the destination's root: Haven never creates it
    await mkdir(join(work, "src"));
    await writeFile(join(work, "src", "a.txt"), "a");
    const cfg = config();
    for (let i = 0; i < 3; i++) ids.push(await backup(cfg, target));
    listed = [...ids].sort();
  });

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  function config() {
    return verifyConfig(filesystemDestination(join(work, "dest")), [
      `${target}:`,
      "  type: files",
      `  path: ${join(work, "src")}`,
      "  verify: { randomWithin: 1h }",
    ]);
  }

  async function choose(options: {
    snapshotId?: string;
    random?: number;
    now?: Date;
    randomWithinMs?: number;
  }) {
    const cfg = config();
    const storage = createStorage(cfg.destinations.primary!, silentLogger);
    try {
      return await chooseSnapshot(storage, cfg.targets[target]!, {
        snapshotId: options.snapshotId,
        randomWithinMs: options.randomWithinMs,
        now: options.now ?? new Date(),
        random: () => options.random ?? 0,
      });
    } finally {
      await storage.close();
    }
  }

  test("the newest by default (by startedAt, also within one second); an exact id; a random one within the window", async () => {
    expect((await choose({})).manifest.id).toBe(ids[2]);
    expect((await choose({ snapshotId: ids[0] })).manifest.id).toBe(ids[0]);
    expect((await choose({ snapshotId: ids[0] })).newest.id).toBe(ids[2]);
    const within = { randomWithinMs: 3_600_000 };
    // The window is drawn from the listing.
    expect((await choose({ ...within, random: 0 })).manifest.id).toBe(listed[0]);
    expect((await choose({ ...within, random: 0.5 })).manifest.id).toBe(listed[1]);
    expect((await choose({ ...within, random: 0.999 })).manifest.id).toBe(listed[2]);
  });

  test("an empty window falls back to the newest; freshness looks at the newest", async () => {
    const later = new Date(snapshotIdTime(ids[2]!).getTime() + 2 * 3_600_000);
    const choice = await choose({ randomWithinMs: 3_600_000, random: 0, now: later });
    expect(choice.manifest.id).toBe(ids[2]);
    expect(choice.freshness).toMatchObject({ ok: true, actual: { snapshotId: ids[2] } });
  });
});

test("a Redis key count may differ from the one recorded before the fork by 1% (at least 100 keys), not more", () => {
  expect(keyCountTolerance(50)).toBe(100);
  expect(keyCountTolerance(1_000_000)).toBe(10_000);
  // Keys written or expired in the seconds between INFO and the RDB's fork.
  expect(
    countCheck("keys", 1_000_000, 996_500, "detail", { tolerance: keyCountTolerance(1_000_000) }),
  ).toMatchObject({
    ok: true,
    detail: "detail",
  });
  // A lost database or another server's snapshot differs by far more.
  expect(
    countCheck("keys", 1_000_000, 500_000, "detail", { tolerance: keyCountTolerance(1_000_000) }).ok,
  ).toBe(false);
  expect(countCheck("keys", 5, 0, undefined, { tolerance: 0 }).ok).toBe(false);
  expect(countCheck("rows", 7, 7)).toEqual({ name: "rows", ok: true, expected: 7, actual: 7 });
});
