/**
 * Row counts read from pg_dump's custom archive as it streams (src/targets/postgres/archive-rows.ts),
 * checked against `count(*)` on the machine's PostgreSQL, on archives the installed pg_dump wrote:
 * tables whose values hold newlines, backslashes and the terminator's own text, a table with no
 * columns (its rows are empty lines), an empty table, partitions, names that need quoting, and large
 * objects (a block of another kind in between). Whatever the reader cannot follow is a `problem`,
 * never a wrong number.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Client } from "pg";
import {
  ArchiveRowCounter,
  MAX_TOC_BYTES,
  type ArchiveRowCounts,
} from "../../src/targets/postgres/archive-rows";
import { PassThrough } from "node:stream";
import type { ToolProcess } from "../../src/targets/process";
import { isReaderClosedError } from "../../src/targets/reader-closed";
import { countRows, exportSnapshot, readArchiveRows } from "../../src/targets/postgres/backup";
import { serverInfo } from "../../src/targets/postgres/client";
import { PG, psql, testRun, uniqueName } from "../helpers/db";

const execFileAsync = promisify(execFile);
const database = uniqueName("haven_pg_archive_rows");
const strict = uniqueName("haven_pg_archive_strict");

async function pgDump(...args: string[]): Promise<Buffer> {
  const { stdout } = await execFileAsync(
    "pg_dump",
    ["-h", PG.host, "-p", String(PG.port), "-U", PG.user, "--format=custom", ...args, database],
    { encoding: "buffer", maxBuffer: 256 * 1024 * 1024 },
  );
  return stdout;
}

function countIn(archive: Buffer, chunkSize: number): ArchiveRowCounts {
  const counter = new ArchiveRowCounter();
  for (let at = 0; at < archive.length; at += chunkSize) counter.push(archive.subarray(at, at + chunkSize));
  return counter.result();
}

/** count(*) of every ordinary table, keyed by its oid as the archive names it. */
async function exactCounts(): Promise<Map<string, number>> {
  const tables = await psql(
    database,
    `select c.oid || E'\\t' || n.nspname || E'\\t' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') order by 1`,
  );
  const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const counts = new Map<string, number>();
  for (const line of tables.split("\n").filter(Boolean)) {
    const [oid, schema, name] = line.split("\t") as [string, string, string];
    counts.set(
      oid,
      Number(await psql(database, `select count(*) from only ${ident(schema)}.${ident(name)}`)),
    );
  }
  return counts;
}

async function oidOf(table: string): Promise<string> {
  return psql(database, `select '${table}'::regclass::oid`);
}

/** pg_dump's WriteInt: a sign byte, then four bytes, least significant first. */
function int(value: number): Buffer {
  const out = Buffer.alloc(5);
  out[0] = value < 0 ? 1 : 0;
  out.writeUInt32LE(Math.abs(value), 1);
  return out;
}

function str(value: string | null): Buffer {
  if (value === null) return int(-1);
  const bytes = Buffer.from(value);
  return Buffer.concat([int(bytes.length), bytes]);
}

/**
 * A custom archive built by hand, of archive version 1.`minor`, with one TABLE DATA entry (dump id 7,
 * table oid 16384) whose COPY data is sent in the given chunks: pg_dump's own archives send a row per
 * chunk and the terminator whole, so this is how a reader meets other chunkings, and the layouts of
 * pg_dump versions other than the machine's (1.12: PostgreSQL 9.6-11; 1.16: 17 and later).
 */
function handMadeArchive(
  chunks: string[],
  minor = 14,
  definition = "CREATE TABLE public.t (v text);\n",
): Buffer {
  const header = Buffer.concat([
    Buffer.from("PGDMP"),
    Buffer.from([1, minor, 0, 4, 8, 1]),
    minor >= 15 ? Buffer.from([0]) : int(0), // compression: none
    ...[0, 0, 0, 1, 0, 126, 0].map(int), // creation time
    str("db"),
    str("15.0"),
    str("15.0"),
  ]);
  const entry = Buffer.concat([
    int(7),
    int(1),
    str("1259"),
    str("16384"),
    str("t"),
    str("TABLE DATA"),
    int(3),
    str(""),
    str(""),
    str("COPY public.t (v) FROM stdin;\n"),
    str("public"),
    str(""),
    ...(minor >= 14 ? [str("")] : []), // table access method
    ...(minor >= 16 ? [int(114)] : []), // relkind 'r'
    str("postgres"),
    str("false"),
    str(null), // no dependencies: the reader must not take a field for one
    Buffer.from([1]),
    Buffer.alloc(8),
  ]);
  // An entry before it with dependencies, as pg_dump's ENCODING entry has none and tables have some.
  const schemaEntry = Buffer.concat([
    int(6),
    int(0),
    str("1259"),
    str("16384"),
    str("t"),
    str("TABLE"),
    int(1),
    str(definition),
    str("DROP TABLE public.t;\n"),
    str(null),
    str("public"),
    str(""),
    ...(minor >= 14 ? [str("heap")] : []),
    ...(minor >= 16 ? [int(114)] : []),
    str("postgres"),
    str("false"),
    str("3"),
    str("5"),
    str(null),
    Buffer.from([3]),
    Buffer.alloc(8),
  ]);
  const data = chunks.map((chunk) => Buffer.concat([int(Buffer.byteLength(chunk)), Buffer.from(chunk)]));
  return Buffer.concat([header, int(2), schemaEntry, entry, Buffer.from([1]), int(7), ...data, int(0)]);
}

let plain: Buffer;

beforeAll(async () => {
  await psql("postgres", `create database ${database}`);
  await psql(
    database,
    `
    create schema "Odd.Schema";
    create table public.notes (id int, body text);
    insert into public.notes
      select g, case g % 4
        when 0 then E'two\\nlines'
        when 1 then E'back\\\\slash and \\\\.'
        when 2 then E'\\\\.\\n\\n\\n'
        else '' end
      from generate_series(1, 5003) g;
    create table public.nothing ();
    insert into public.nothing default values;
    insert into public.nothing default values;
    insert into public.nothing default values;
    create table public.empty (id int);
    create table "Odd.Schema"."Mixed ""Case"" é" (id int, payload bytea);
    create schema "a.b";
    create schema a;
    create table "a.b".c (id int);
    create table a."b.c" (id int);
    insert into a."b.c" values (1), (2), (3);
    insert into "Odd.Schema"."Mixed ""Case"" é" select g, decode(repeat('0a', 64), 'hex') from generate_series(1, 777) g;
    create table public.measurements (id int, at date) partition by range (at);
    create table public.measurements_2025 partition of public.measurements for values from ('2025-01-01') to ('2026-01-01');
    create table public.measurements_2026 partition of public.measurements for values from ('2026-01-01') to ('2027-01-01');
    insert into public.measurements select g, date '2025-06-01' + (g % 400) from generate_series(1, 1200) g;
    select lo_from_bytea(0, decode(repeat('0a', 5000), 'hex'));
    select lo_from_bytea(0, convert_to(repeat(E'line\\n', 300), 'UTF8'));
    `,
  );
  plain = await pgDump("--compress=0");
});

afterAll(async () => {
  await psql("postgres", `drop database if exists ${database} with (force)`);
  await psql("postgres", `drop database if exists ${strict} with (force)`);
});

describe("row counts from a pg_dump custom archive", () => {
  test("equal count(*) for every table, however the stream is cut", async () => {
    const expected = await exactCounts();
    expect(expected.get(await oidOf("public.notes"))).toBe(5003);
    expect(expected.get(await oidOf("public.nothing"))).toBe(3);
    // Two tables that a schema.table key would not tell apart.
    expect(expected.get(await oidOf('a."b.c"'))).toBe(3);
    expect(expected.get(await oidOf('"a.b".c'))).toBe(0);
    for (const chunkSize of [1, 2, 3, 5, 7, 64, 4096, 65536, plain.length]) {
      const { rows, problem } = countIn(plain, chunkSize);
      expect(problem).toBeUndefined();
      expect(new Map([...rows].sort())).toEqual(new Map([...expected].sort()));
    }
  });

  test("the terminator is found however pg_dump chunks the data", () => {
    for (const minor of [12, 13, 14, 15, 16]) {
      for (const chunks of [
        ["1\n2\n\\", ".\n\n\n"],
        ["1\n", "2\n", "\\", ".", "\n", "\n\n"],
        ["1\n2\n\\.\n\n\n"],
      ]) {
        const archive = handMadeArchive(chunks, minor);
        for (const chunkSize of [1, 3, archive.length]) {
          expect(countIn(archive, chunkSize)).toEqual({ rows: new Map([["16384", 2]]), problem: undefined });
        }
      }
    }
    expect(countIn(handMadeArchive(["1\n2\n", "\\.\n\n"]), 4096).problem).toMatch(/does not end as COPY/);

    // The TOC completed by the stream's last chunk, long before the buffer would have doubled.
    const archive = handMadeArchive(["1\n", "\\.\n\n\n"]);
    const dataStart = archive.lastIndexOf(Buffer.concat([Buffer.from([1]), int(7)]));
    const counter = new ArchiveRowCounter();
    counter.push(archive.subarray(0, dataStart - 1));
    counter.push(archive.subarray(dataStart - 1));
    expect(counter.result()).toEqual({ rows: new Map([["16384", 1]]), problem: undefined });
  });

  test("a table of contents past the memory cap is a problem, and is not held on to", () => {
    const huge = handMadeArchive(["1\n", "\\.\n\n\n"], 14, "-".repeat(2 * MAX_TOC_BYTES));
    const counter = new ArchiveRowCounter();
    for (let at = 0; at < huge.length; at += 1 << 20) counter.push(huge.subarray(at, at + (1 << 20)));
    expect(counter.result()).toEqual({
      rows: new Map(),
      problem: "the table of contents is larger than 32 MiB",
    });
  });

  test("a compressed archive is a problem, not a guess", async () => {
    const compressed = await pgDump("--compress=6");
    const { rows, problem } = countIn(compressed, 65536);
    expect(problem).toMatch(/compressed/);
    expect(rows.size).toBe(0);
  });

  test("an archive cut short, damaged, of another version or not an archive at all is a problem", () => {
    expect(countIn(plain.subarray(0, plain.length - 3), 4096).problem).toMatch(/ended inside a data block/);
    expect(countIn(plain.subarray(0, 40), 4096).problem).toMatch(/ended inside its table of contents/);
    expect(countIn(Buffer.from("-- PostgreSQL database dump\n"), 4096).problem).toMatch(
      /not a pg_dump archive/,
    );

    const newer = Buffer.from(plain);
    newer[6] = 99; // minor version
    expect(countIn(newer, 4096).problem).toMatch(/archive version 1\.99/);

    // The last table data block's terminator, `\.\n\n\n`, changed: that table's count is not trusted.
    const damaged = Buffer.from(plain);
    const terminator = damaged.lastIndexOf(Buffer.from("\\.\n\n\n", "latin1"));
    expect(terminator).toBeGreaterThan(0);
    damaged[terminator + 1] = 0x21;
    expect(countIn(damaged, 4096).problem).toMatch(/does not end as COPY data does/);
  });

  test("the backup counts in the snapshot what the archive could not tell, and only that", async () => {
    const client = new Client({ host: PG.host, port: PG.port, user: PG.user, database });
    await client.connect();
    try {
      const tables = [
        { oid: await oidOf("public.notes"), schema: "public", name: "notes", estimate: 0 },
        { oid: await oidOf("public.nothing"), schema: "public", name: "nothing", estimate: 0 },
      ];
      const damaged = new ArchiveRowCounter();
      damaged.push(Buffer.from("not an archive at all"));
      const run = testRun();
      const counted = await countRows(client, tables, "exact", damaged, run);
      expect(counted).toEqual({ "public.notes": 5003, "public.nothing": 3 });
      expect(run.logText()).toMatch(/count\(\*\).*|not a pg_dump archive/);
      expect(run.logText()).toContain("not a pg_dump archive");

      const whole = new ArchiveRowCounter();
      whole.push(plain);
      const quiet = testRun();
      expect(await countRows(client, tables, "exact", whole, quiet)).toEqual({
        "public.notes": 5003,
        "public.nothing": 3,
      });
      expect(quiet.logText()).not.toContain("count(*)");
    } finally {
      await client.end();
    }
  });

  test("the snapshot's session outlives a database's idle-transaction timeout, for the counts made in it", async () => {
    // The database ends any transaction idle for 200 ms, as a cautious DBA may configure it; the
    // session holding the dump's snapshot sits idle for as long as pg_dump runs.
    await psql("postgres", `create database ${strict}`);
    await psql(
      strict,
      `create table public.kept (id int);
       insert into public.kept select generate_series(1, 1000);
       alter database ${strict} set idle_in_transaction_session_timeout = '200ms';`,
    );
    const client = new Client({ host: PG.host, port: PG.port, user: PG.user, database: strict });
    client.on("error", () => undefined);
    await client.connect();
    try {
      expect(await exportSnapshot(client, await serverInfo(client))).toMatch(/^[0-9A-F-]+$/);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const unreadable = new ArchiveRowCounter();
      unreadable.push(Buffer.from("not an archive"));
      const tables = [{ oid: "0", schema: "public", name: "kept", estimate: 0 }];
      expect(await countRows(client, tables, "exact", unreadable, testRun())).toEqual({
        "public.kept": 1000,
      });
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  test("pg_dump's output closed before its end rejects as the reader's failure, not counted in SQL instead", async () => {
    const cut = new PassThrough();
    const reading = readArchiveRows({ stdout: cut } as unknown as ToolProcess);
    cut.write(plain.subarray(0, 10_000));
    cut.destroy(new Error("the upload failed"));
    const error = await reading.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(isReaderClosedError(error)).toBe(true);

    const whole = new PassThrough();
    const complete = readArchiveRows({ stdout: whole } as unknown as ToolProcess);
    whole.end(plain);
    whole.resume(); // as the body's pipe reads it
    expect((await complete).result().problem).toBeUndefined();
  });
});
