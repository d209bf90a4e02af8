/**
 * The postgres adapter against the machine's PostgreSQL: a database with several schemas, 200k rows,
 * bytea, jsonb, a sequence, a view, a function, a trigger, an index and a table owned by another role
 * goes through backup → zstd -3 → zstd -d → restore into a new database, and comes back identical:
 * row counts, md5 of every table's ordered contents, and the `pg_dump --schema-only` text.
 */
import { execFile, spawn } from "node:child_process";
import { Readable, Transform } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { Secret } from "../../src/lib/secret";
import { isHavenError } from "../../src/lib/errors";
import { createPostgresAdapter } from "../../src/targets/postgres/adapter";
import type { TargetConfigOf } from "../../src/config/types";
import type { BackupStats } from "../../src/targets/types";
import { collect, cutShort, PG, psql, sharedPgTarget, testRun, uniqueName } from "../helpers/db";

const execFileAsync = promisify(execFile);

const source = uniqueName("haven_pg_src");
const restored = uniqueName("haven_pg_dst");
const scoped = uniqueName("haven_pg_scoped");
const owner = uniqueName("haven_owner");

function target(overrides: Partial<TargetConfigOf<"postgres">> = {}): TargetConfigOf<"postgres"> {
  return sharedPgTarget("orders-db", source, overrides);
}

beforeAll(async () => {
  await psql("postgres", `create database ${source}; create role ${owner} nologin;`);
  await psql(
    source,
    `
    create schema sales;
    create schema audit;
    create table sales.orders (
      id bigserial primary key,
      customer text not null,
      total numeric(12,2),
      meta jsonb,
      payload bytea,
      created timestamptz not null default '2026-01-01T00:00:00Z'
    );
    insert into sales.orders (customer, total, meta, payload)
      select 'customer ' || g, g * 1.5,
             jsonb_build_object('g', g, 'tags', jsonb_build_array('a', 'b'), 'note', E'line\\nbreak ''quoted'''),
             decode(md5(g::text) || md5((g * 7)::text), 'hex')
      from generate_series(1, 200000) g;
    create index orders_customer_idx on sales.orders (customer);
    create sequence audit.ticket_seq start 100;
    select nextval('audit.ticket_seq'), nextval('audit.ticket_seq');
    create table audit.log (id int generated always as identity primary key, what text, at timestamptz default '2026-01-01');
    create function audit.log_order() returns trigger language plpgsql as $$
      begin insert into audit.log (what) values ('order ' || new.id); return new; end $$;
    create trigger orders_audit after insert on sales.orders for each row execute function audit.log_order();
    insert into sales.orders (customer, total, payload) values ('triggered', 1, '\\x00ff00'::bytea);
    create view sales.big_orders as select id, customer from sales.orders where total > 299000;
    create table public.owned (id int primary key, label text);
    insert into public.owned values (1, 'one'), (2, 'two');
    alter table public.owned owner to ${owner};
    analyze;
    `,
  );
});

afterAll(async () => {
  for (const db of [source, restored, scoped]) {
    await psql("postgres", `drop database if exists ${db} with (force);`);
  }
  await psql("postgres", `drop role if exists ${owner};`);
});

/** Every user table with its row count and the md5 of its rows in a stable order. */
async function fingerprint(database: string): Promise<string> {
  const tables = (
    await psql(
      database,
      "select quote_ident(schemaname) || '.' || quote_ident(tablename) from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
    )
  )
    .split("\n")
    .filter(Boolean);
  const lines: string[] = [];
  for (const table of tables) {
    lines.push(
      `${table} ` +
        (await psql(
          database,
          `select count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from ${table} t`,
        )),
    );
  }
  lines.push(
    `ticket_seq ${await psql(database, "select last_value || ' ' || is_called from audit.ticket_seq")}`,
  );
  return lines.join("\n");
}

/** `pg_dump --schema-only`, without the random \restrict keys of recent versions and the db name. */
async function schemaText(database: string): Promise<string> {
  const { stdout } = await execFileAsync(
    "pg_dump",
    ["-h", PG.host, "-p", String(PG.port), "-U", PG.user, "--schema-only", database],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split("\n")
    .filter((line) => !/^\\(un)?restrict /.test(line))
    .join("\n")
    .split(database)
    .join("<db>");
}

/** Passes bytes through and remembers the first few, to check the stream's format. */
function headRecorder(): Transform & { head: Buffer } {
  const recorder = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (recorder.head.length < 16) recorder.head = Buffer.concat([recorder.head, chunk]).subarray(0, 16);
      callback(null, chunk);
    },
  }) as Transform & { head: Buffer };
  recorder.head = Buffer.alloc(0);
  return recorder;
}

/** body → zstd -3 → zstd -d → output, as the engine and a manual recipe would do it. */
function throughZstd(body: Readable): {
  plain: Readable;
  head: Transform & { head: Buffer };
  done: Promise<void>;
} {
  const compress = spawn("zstd", ["-3", "-q", "-c"], { stdio: ["pipe", "pipe", "inherit"] });
  const decompress = spawn("zstd", ["-d", "-q", "-c"], { stdio: ["pipe", "pipe", "inherit"] });
  const head = headRecorder();
  const done = Promise.all([
    pipeline(body, head, compress.stdin),
    pipeline(compress.stdout, decompress.stdin),
  ]).then(() => undefined);
  return { plain: decompress.stdout, head, done };
}

describe("postgres adapter", () => {
  let stats: BackupStats;

  test("round trip through zstd into a new database: counts, contents and schema identical", async () => {
    const adapter = createPostgresAdapter(target(), testRun().logger);
    const run = testRun();
    const stream = await adapter.backup(run);
    expect(stream.main).toMatchObject({ name: "data", format: "pgdump" });
    const zstd = throughZstd(stream.main.body);
    const [backupStats, restoreStats] = await Promise.all([
      stream.done,
      adapter.restore(zstd.plain, { kind: "database", name: restored }, testRun()),
      zstd.done,
    ]);
    stats = backupStats;
    expect(zstd.head.head.subarray(0, 5).toString()).toBe("PGDMP");
    expect(restoreStats).toMatchObject({ database: restored, created: true });
    expect(restoreStats.bytes).toBeGreaterThan(1_000_000);

    expect(stats.tables).toEqual({ "audit.log": 1, "public.owned": 2, "sales.orders": 200_001 });
    expect(stats.rowCounts).toBe("exact");
    // Read from the archive as it streamed: no table was scanned a second time to count it.
    expect(run.logText()).not.toContain("count(*)");
    expect(stats.source).toMatchObject({ database: source });
    expect(stats.source?.server).toMatch(/^PostgreSQL \d+/);
    expect(stats.source?.pg_dump).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(run.warnings).toEqual([]);

    const expected = await fingerprint(source);
    expect(expected).toContain("sales.orders 200001 ");
    expect(await fingerprint(restored)).toBe(expected);
    expect(await schemaText(restored)).toBe(await schemaText(source));
    // The role-owned table kept its owner, the trigger and the function came back working.
    expect(await psql(restored, "select tableowner from pg_tables where tablename = 'owned'")).toBe(owner);
    await psql(restored, "insert into sales.orders (customer) values ('after restore')");
    expect(await psql(restored, "select count(*) from audit.log")).toBe("2");
  });

  test("refuses to restore over a database that holds objects, and replaces them with consent", async () => {
    const adapter = createPostgresAdapter(target(), testRun().logger);
    const refused = await adapter.backup(testRun());
    const error: unknown = await adapter
      .restore(refused.main.body, { kind: "database", name: restored }, testRun())
      .catch((e: unknown) => e);
    expect(isHavenError(error, "REFUSED")).toBe(true);
    expect((error as Error).message).toContain(restored);
    // The refused body was destroyed, which stops pg_dump; its done then rejects.
    expect(refused.main.body.destroyed).toBe(true);
    await expect(refused.done).rejects.toThrow();

    await psql(restored, "delete from sales.orders where id <= 1000; create table public.extra (x int);");
    const again = await adapter.backup(testRun());
    const [, replaced] = await Promise.all([
      again.done,
      adapter.restore(again.main.body, { kind: "database", name: restored }, testRun(), { force: true }),
    ]);
    expect(replaced).toMatchObject({ created: false });
    // --clean drops what the dump holds; other objects stay.
    expect(await psql(restored, "select count(*) from pg_tables where tablename = 'extra'")).toBe("1");
    await psql(restored, "drop table public.extra");
    expect(await fingerprint(restored)).toBe(await fingerprint(source));
  });

  test("a consented restore over a database whose input fails half way leaves that database as it was", async () => {
    const adapter = createPostgresAdapter(target(), testRun().logger);
    await psql(restored, "delete from sales.orders where id <= 10");
    const before = await fingerprint(restored);
    const backup = await adapter.backup(testRun());
    const [dump] = await Promise.all([buffer(backup.main.body), backup.done]);
    const error: unknown = await adapter
      .restore(cutShort(dump), { kind: "database", name: restored }, testRun(), { force: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(await fingerprint(restored)).toBe(before);
  });

  test("include/exclude patterns select the same tables for pg_dump and for the row counts", async () => {
    const adapter = createPostgresAdapter(
      target({ schemas: ["audit", "pub*"], excludeTables: ["public.OWNED"] }),
      testRun().logger,
    );
    const stream = await adapter.backup(testRun());
    const [scopedStats] = await Promise.all([
      stream.done,
      adapter.restore(stream.main.body, { kind: "database", name: scoped }, testRun()),
    ]);
    expect(scopedStats.tables).toEqual({ "audit.log": 1 });
    const tables = await psql(
      scoped,
      "select schemaname || '.' || tablename from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
    );
    expect(tables).toBe("audit.log");
  });

  test("globals: roles come as a second stream after the main one", async () => {
    const adapter = createPostgresAdapter(target({ globals: true, rowCounts: "estimate" }), testRun().logger);
    const run = testRun();
    const stream = await adapter.backup(run);
    const main = await collect(stream.main.body);
    expect(main.subarray(0, 5).toString()).toBe("PGDMP");
    const extra = (await stream.after?.()) ?? [];
    expect(extra.map((s) => [s.name, s.format])).toEqual([["globals", "sql"]]);
    const globals = (await collect((extra[0] as { body: Readable }).body)).toString();
    expect(globals).toContain(`CREATE ROLE ${owner};`);
    const done = await stream.done;
    // Planner estimates (after ANALYZE) instead of exact counts.
    expect(done.rowCounts).toBe("estimate");
    expect(done.tables?.["sales.orders"]).toBeGreaterThan(190_000);
    expect(run.warnings).toEqual([]);
  });

  test("probe of a good target reports every check ok", async () => {
    const adapter = createPostgresAdapter(target({ globals: true }), testRun().logger);
    const probe = await adapter.probe(new AbortController().signal);
    expect(probe.checks.map((c) => [c.name, c.ok])).toEqual([
      ["pg_dump", true],
      ["connection", true],
      ["versions", true],
      ["permissions", true],
      ["globals", true],
    ]);
    expect(probe.ok).toBe(true);
  });

  test("probe of a bad target says what is wrong and how to fix it, without throwing", async () => {
    const missing = createPostgresAdapter(
      target({ database: uniqueName("haven_missing") }),
      testRun().logger,
    );
    const probe = await missing.probe(new AbortController().signal);
    expect(probe.ok).toBe(false);
    const connection = probe.checks.find((c) => c.name === "connection");
    expect(connection).toMatchObject({ ok: false });
    expect(connection?.detail).toMatch(/does not exist/);
    expect(connection?.hint).toMatch(/database/);

    const unreachable = createPostgresAdapter(
      target({
        url: new Secret("postgres://postgres:topsecret@127.0.0.1:1/x"),
        host: undefined,
        port: undefined,
      }),
      testRun().logger,
    );
    const down = await unreachable.probe(new AbortController().signal);
    expect(down.ok).toBe(false);
    expect(down.checks.find((c) => c.name === "connection")?.hint).toMatch(/reachable/);
    expect(JSON.stringify(down)).not.toContain("topsecret");
  });

  test("probe: an include list that matches nothing fails, as pg_dump would", async () => {
    const typo = createPostgresAdapter(target({ tables: ["public.no_such_table_x"] }), testRun().logger);
    const probe = await typo.probe(new AbortController().signal);
    expect(probe.ok).toBe(false);
    expect(probe.checks.find((c) => c.name === "tables")).toMatchObject({
      ok: false,
      detail: expect.stringContaining("public.no_such_table_x"),
      hint: expect.stringContaining("tables"),
    });
    const backup = await typo.backup(testRun());
    await expect(Promise.all([collect(backup.main.body), backup.done])).rejects.toThrow(
      /no matching tables were found/,
    );

    const noSchema = createPostgresAdapter(target({ schemas: ["no_such_schema_x"] }), testRun().logger);
    const schemaProbe = await noSchema.probe(new AbortController().signal);
    expect(schemaProbe.checks.find((c) => c.name === "schemas")).toMatchObject({ ok: false });

    const good = createPostgresAdapter(target({ schemas: ["public"], tables: ["*"] }), testRun().logger);
    const goodProbe = await good.probe(new AbortController().signal);
    expect(goodProbe.checks.filter((c) => !c.ok)).toEqual([]);
  });

  test("recipe restores with pg_restore alone", () => {
    const adapter = createPostgresAdapter(target({ globals: true }), testRun().logger);
    const recipe = adapter.recipe({
      key: "orders-db/20260101T000000Z-00000000/data.pgdump.zst.age",
      compression: "zstd",
      encrypted: true,
    });
    expect(recipe.join("\n")).toContain(
      'age -d -i "$AGE_IDENTITY_FILE" data.pgdump.zst.age | zstd -dc | pg_restore --exit-on-error --clean --if-exists --dbname=NEWDB',
    );
    expect(recipe.join("\n")).toContain("globals.sql.zst.age");
    expect(recipe.join("\n")).toContain("--jobs");
  });
});
