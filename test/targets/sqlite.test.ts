/**
 * The sqlite adapter: a database written to by another process during the backup yields a
 * consistent, openable copy (in WAL and in rollback-journal mode), restored to a path with its row
 * counts and invariants intact; refusals, a cancelled run, bad sources and the probe.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { TargetConfigOf } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { createSqliteAdapter } from "../../src/targets/sqlite/adapter";
import { collect, commonTargetFields, runWithInput, testRun } from "../helpers/db";

let dir: string;
let tempDir: string;

function target(path: string): TargetConfigOf<"sqlite"> {
  return { ...commonTargetFields("app-sqlite"), type: "sqlite", path, tempDir };
}

const sqlite = (database: string, sql: string) =>
  runWithInput("sqlite3", ["-bail", "-cmd", ".timeout 30000", database], sql);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-sqlite-test-"));
  tempDir = join(dir, "tmp");
  await mkdir(tempDir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A ledger whose invariants hold after every transaction: rows come in batches of 10 that sum to 0,
 * and `totals` counts the rows. A torn copy would break them.
 */
async function createLedger(path: string, journal: "wal" | "delete"): Promise<void> {
  await sqlite(
    path,
    `pragma journal_mode = ${journal};
     create table ledger (id integer primary key, batch integer not null, amount integer not null, memo text);
     create table totals (id integer primary key check (id = 1), rows integer not null);
     insert into totals values (1, 0);
     create index ledger_batch on ledger (batch);
     create view balances as select batch, sum(amount) as balance from ledger group by batch;
     with recursive b(n) as (select 1 union all select n + 1 from b where n < 2000)
       insert into ledger (batch, amount, memo) select n, case when k.k % 2 = 0 then 5 else -5 end, hex(randomblob(100))
       from b cross join (select 1 as k union all select 2 union all select 3 union all select 4 union all select 5
                          union all select 6 union all select 7 union all select 8 union all select 9 union all select 10) k;
     update totals set rows = (select count(*) from ledger);`,
  );
}

/** Another process that commits `count` batches, one transaction each, as fast as it can. */
function startWriter(path: string, count: number): { finished: Promise<void> } {
  // synchronous=off: no fsync per commit, so a journal-mode writer is quick (durability is not tested here).
  const child = spawn(
    "sqlite3",
    ["-bail", "-cmd", ".timeout 30000", "-cmd", "pragma synchronous = off", path],
    {
      stdio: ["pipe", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const finished = (async () => {
    for (let batch = 100_000; batch < 100_000 + count; batch++) {
      const rows = Array.from({ length: 10 }, (_, k) => `(${batch}, ${k % 2 === 0 ? 5 : -5}, 'w')`).join(",");
      const sql = `begin immediate; insert into ledger (batch, amount, memo) values ${rows}; update totals set rows = rows + 10; commit;\n`;
      if (!child.stdin.write(sql)) await once(child.stdin, "drain");
    }
    child.stdin.end();
    const [code] = (await once(child, "close")) as [number];
    if (code !== 0) throw new Error(`writer failed: ${stderr}`);
  })();
  return { finished };
}

async function invariants(
  path: string,
): Promise<{ rows: number; totals: number; unbalanced: number; check: string }> {
  const [rows, totals, unbalanced, check] = (
    await sqlite(
      path,
      `select count(*) from ledger; select rows from totals; select count(*) from balances where balance <> 0; pragma integrity_check;`,
    )
  ).split("\n");
  return {
    rows: Number(rows),
    totals: Number(totals),
    unbalanced: Number(unbalanced),
    check: check as string,
  };
}

describe("sqlite adapter", () => {
  test.each(["wal", "delete"] as const)(
    "a database written to during the backup yields a consistent copy (%s journal)",
    async (journal) => {
      const path = join(dir, `ledger-${journal}.db`);
      await createLedger(path, journal);
      const adapter = createSqliteAdapter(target(path), testRun().logger);
      const writer = startWriter(path, 300);
      const stream = await adapter.backup(testRun());
      // The copy is made and unlinked before the stream starts: nothing is left in the temp dir.
      expect(await readdir(tempDir)).toEqual([]);
      const [copy, stats] = await Promise.all([collect(stream.main.body), stream.done]);
      await writer.finished;
      expect((await invariants(path)).rows).toBe(23_000);

      const restoredPath = join(dir, `restored-${journal}.db`);
      const restoreStats = await adapter.restore(
        Readable.from([copy]),
        { kind: "path", path: restoredPath },
        testRun(),
      );
      expect(restoreStats).toEqual({ bytes: copy.length, path: restoredPath });
      const restored = await invariants(restoredPath);
      expect(restored.check).toBe("ok");
      expect(restored.unbalanced).toBe(0);
      expect(restored.rows).toBe(restored.totals);
      expect(restored.rows % 10).toBe(0);
      expect(restored.rows).toBeGreaterThanOrEqual(20_000);
      expect(restored.rows).toBeLessThanOrEqual(23_000);
      expect(stats.tables).toEqual({ "main.ledger": restored.rows, "main.totals": 1 });
      expect(stats.source).toMatchObject({ sqlite3: expect.stringMatching(/^3\./), path });
      expect(
        await sqlite(restoredPath, "select count(*) from sqlite_schema where type in ('index', 'view')"),
      ).toBe("2");
    },
  );

  test("WAL: commits still in the WAL are in the copy, a transaction in flight is not", async () => {
    const path = join(dir, "ledger-inflight.db");
    await createLedger(path, "wal");
    const writer = spawn("sqlite3", ["-bail", "-cmd", ".timeout 30000", path], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const batch = (n: number) =>
      `insert into ledger (batch, amount, memo) values ${Array.from({ length: 10 }, (_, k) => `(${n}, ${k % 2 ? -5 : 5}, 'w')`).join(",")};`;
    writer.stdin.write(
      // No checkpoint: the three committed batches stay in the -wal file, where a copy of the main file would miss them.
      `pragma wal_autocheckpoint = 0;\n${[1, 2, 3].map((n) => `begin; ${batch(90_000 + n)} update totals set rows = rows + 10; commit;`).join("\n")}\n` +
        `begin immediate; insert into ledger (batch, amount, memo) values (99999, 5, 'half'); update totals set rows = rows + 1;\n.print READY\n`,
    );
    let out = "";
    while (!out.includes("READY")) out += ((await once(writer.stdout, "data")) as [Buffer])[0].toString();
    expect((await stat(`${path}-wal`)).size).toBeGreaterThan(0);

    const adapter = createSqliteAdapter(target(path), testRun().logger);
    const stream = await adapter.backup(testRun());
    const [copy, stats] = await Promise.all([collect(stream.main.body), stream.done]);
    writer.stdin.end("rollback;\n");
    await once(writer, "close");

    expect(stats.tables).toEqual({ "main.ledger": 20_030, "main.totals": 1 });
    const restoredPath = join(dir, "restored-inflight.db");
    await adapter.restore(Readable.from([copy]), { kind: "path", path: restoredPath }, testRun());
    expect(await invariants(restoredPath)).toEqual({
      rows: 20_030,
      totals: 20_030,
      unbalanced: 0,
      check: "ok",
    });
  });

  test("row counts of a database with more tables than one compound SELECT may hold", async () => {
    const path = join(dir, "many-tables.db");
    const tables = Array.from(
      { length: 620 },
      (_, i) => `create table t${i} (x); insert into t${i} values (${i});`,
    );
    await sqlite(path, `begin; ${tables.join(" ")} insert into t7 values (0); commit;`);
    const adapter = createSqliteAdapter(target(path), testRun().logger);
    const stream = await adapter.backup(testRun());
    const [, stats] = await Promise.all([collect(stream.main.body), stream.done]);
    expect(Object.keys(stats.tables ?? {})).toHaveLength(620);
    expect(stats.tables).toMatchObject({ "main.t0": 1, "main.t7": 2, "main.t619": 1 });
  });

  test("restore asks beforeWrite after its own checks and before it writes; a refusal there writes nothing", async () => {
    const path = join(dir, "asked.db");
    await sqlite(path, "create table t (x); insert into t values (1);");
    const adapter = createSqliteAdapter(target(path), testRun().logger);
    const stream = await adapter.backup(testRun());
    const [copy] = await Promise.all([collect(stream.main.body), stream.done]);
    const asked: string[] = [];

    // Its own check refuses first: beforeWrite is not asked.
    const existing = join(dir, "asked-existing.db");
    await sqlite(existing, "create table other (y);");
    const ask = () => {
      asked.push("asked");
      return Promise.resolve();
    };
    await expect(
      adapter.restore(Readable.from([copy]), { kind: "path", path: existing }, testRun(), {
        beforeWrite: ask,
      }),
    ).rejects.toMatchObject({ code: "REFUSED" });
    expect(asked).toEqual([]);

    const fresh = join(dir, "asked-fresh.db");
    const body = Readable.from([copy]);
    const refuse = () => {
      asked.push("refused");
      return Promise.reject(new Error("approval already used"));
    };
    await expect(
      adapter.restore(body, { kind: "path", path: fresh }, testRun(), { beforeWrite: refuse }),
    ).rejects.toThrow("approval already used");
    expect(body.destroyed).toBe(true);
    expect((await readdir(dir)).filter((name) => name.includes("asked-fresh"))).toEqual([]);

    await adapter.restore(Readable.from([copy]), { kind: "path", path: fresh }, testRun(), {
      beforeWrite: ask,
    });
    expect(asked).toEqual(["refused", "asked"]);
    expect((await sqlite(fresh, "select count(*) from t;")).trim()).toBe("1");
  });

  test("restore refuses an existing file unless forced, and then drops the old file's WAL", async () => {
    const path = join(dir, "small.db");
    await sqlite(path, "create table t (x); insert into t values (1), (2), (3);");
    const adapter = createSqliteAdapter(target(path), testRun().logger);
    const stream = await adapter.backup(testRun());
    const [copy] = await Promise.all([collect(stream.main.body), stream.done]);

    const existing = join(dir, "existing.db");
    await sqlite(existing, "create table other (y);");
    const refused = Readable.from([copy]);
    await expect(adapter.restore(refused, { kind: "path", path: existing }, testRun())).rejects.toMatchObject(
      {
        code: "REFUSED",
      },
    );
    expect(refused.destroyed).toBe(true);
    await expect(
      adapter.restore(Readable.from([copy]), { kind: "original" }, testRun()),
    ).rejects.toMatchObject({
      code: "REFUSED",
    });

    await writeFile(`${existing}-wal`, "stale wal of the old file");
    await chmod(existing, 0o664); // as the application left it, for its group
    await chown(existing, 4242, 4343); // another user's file (the tests run as root)
    await adapter.restore(Readable.from([copy]), { kind: "path", path: existing }, testRun(), {
      force: true,
    });
    expect(await sqlite(existing, "select group_concat(x) from t")).toBe("1,2,3");
    const replaced = await stat(existing);
    expect({ mode: replaced.mode & 0o7777, uid: replaced.uid, gid: replaced.gid }).toEqual({
      mode: 0o664,
      uid: 4242,
      gid: 4343,
    });
    expect((await readdir(dir)).filter((f) => f.startsWith("existing.db"))).toEqual(["existing.db"]);
  });

  test("restore without --force refuses a name held by a dangling symbolic link, and writes nothing", async () => {
    const path = join(dir, "linked-src.db");
    await sqlite(path, "create table t (x); insert into t values (1);");
    const adapter = createSqliteAdapter(target(path), testRun().logger);
    const stream = await adapter.backup(testRun());
    const [copy] = await Promise.all([collect(stream.main.body), stream.done]);
    const linkDir = join(dir, "dangling");
    await mkdir(linkDir);
    await symlink(join(linkDir, "gone.db"), join(linkDir, "app.db"));
    await expect(
      adapter.restore(Readable.from([copy]), { kind: "path", path: join(linkDir, "app.db") }, testRun()),
    ).rejects.toMatchObject({ code: "REFUSED" });
    expect(await readdir(linkDir)).toEqual(["app.db"]);
    expect(await readlink(join(linkDir, "app.db"))).toBe(join(linkDir, "gone.db"));
  });

  test("a damaged copy fails the integrity check and leaves nothing behind", async () => {
    const path = join(dir, "damaged-src.db");
    await sqlite(
      path,
      "create table t (x); insert into t select hex(randomblob(500)) from (with recursive c(n) as (select 1 union all select n+1 from c where n < 500) select n from c);",
    );
    const adapter = createSqliteAdapter(target(path), testRun().logger);
    const stream = await adapter.backup(testRun());
    const [copy] = await Promise.all([collect(stream.main.body), stream.done]);
    const damaged = Buffer.from(copy);
    damaged.fill(0x41, 4096 * 2, 4096 * 4);
    const to = join(dir, "damaged.db");
    const error: unknown = await adapter
      .restore(Readable.from([damaged]), { kind: "path", path: to }, testRun())
      .catch((e: unknown) => e);
    expect(isHavenError(error, "INTEGRITY") || isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((await readdir(dir)).filter((f) => f.includes("damaged.db"))).toEqual([]);
  });

  test("aborting the run while streaming rejects done with CANCELLED", async () => {
    const path = join(dir, "ledger-wal.db");
    const controller = new AbortController();
    const stream = await createSqliteAdapter(target(path), testRun().logger).backup(
      testRun(controller.signal),
    );
    await once(stream.main.body, "readable");
    controller.abort();
    await expect(stream.done).rejects.toMatchObject({ code: "CANCELLED" });
  });

  test("a missing file and a file that is not a database are SOURCE_FAILED", async () => {
    const missing = createSqliteAdapter(target(join(dir, "nope.db")), testRun().logger);
    await expect(missing.backup(testRun())).rejects.toMatchObject({ code: "SOURCE_FAILED" });
    const garbage = join(dir, "garbage.db");
    await writeFile(garbage, "this is not a database, just text long enough to have a header ".repeat(10));
    const error: unknown = await createSqliteAdapter(target(garbage), testRun().logger)
      .backup(testRun())
      .catch((e: unknown) => e);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/not a database/);
    expect(await readdir(tempDir)).toEqual([]);
  });

  test("probe: a good database passes; a missing one says what to fix", async () => {
    const good = await createSqliteAdapter(target(join(dir, "small.db")), testRun().logger).probe(
      new AbortController().signal,
    );
    expect(good.checks.map((c) => [c.name, c.ok])).toEqual([
      ["sqlite3", true],
      ["database", true],
      ["temp space", true],
    ]);
    const bad = await createSqliteAdapter(target(join(dir, "nope.db")), testRun().logger).probe(
      new AbortController().signal,
    );
    expect(bad.ok).toBe(false);
    expect(bad.checks.find((c) => c.name === "database")?.hint).toMatch(/path/);
  });
});
