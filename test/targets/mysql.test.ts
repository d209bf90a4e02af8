/**
 * The mysql adapter against the machine's MariaDB: tables with utf8mb4 text and binary blobs, a view,
 * a procedure, a function, a trigger and an event go through backup → restore into a new schema and
 * come back identical (CHECKSUM TABLE, row counts, object definitions). The backup runs as a user
 * with a password full of option-file syntax, which must never reach a command line or a log.
 */
import { once } from "node:events";
import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import type { TargetConfigOf } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { createMysqlAdapter } from "../../src/targets/mysql/adapter";
import { quoteString } from "../../src/targets/mysql/connection";
import {
  childrenOf,
  collect,
  commonTargetFields,
  cutShort,
  MARIADB,
  mariadb,
  testRun,
  uniqueName,
  waitForChild,
} from "../helpers/db";

const source = uniqueName("haven_my_src");
const restored = uniqueName("haven_my_dst");
const backupUser = uniqueName("haven_bk");
const weakUser = uniqueName("haven_weak");
const password = `p#w"d\\ 'x${uniqueName("")}`;

function target(overrides: Partial<TargetConfigOf<"mysql">> = {}): TargetConfigOf<"mysql"> {
  return {
    ...commonTargetFields("shop-db"),
    type: "mysql",
    host: MARIADB.host,
    port: MARIADB.port,
    user: backupUser,
    password: new Secret(password),
    database: source,
    ...overrides,
  };
}

const asRoot = (overrides: Partial<TargetConfigOf<"mysql">> = {}) =>
  target({ user: MARIADB.user, password: undefined, ...overrides });

const sqlString = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

beforeAll(async () => {
  await mariadb(`
    create database ${source} character set utf8mb4;
    create user '${backupUser}'@'127.0.0.1' identified by ${sqlString(password)};
    grant all on ${source}.* to '${backupUser}'@'127.0.0.1';
    grant select on mysql.proc to '${backupUser}'@'127.0.0.1';
    create user '${weakUser}'@'127.0.0.1' identified by 'weak-pass';
    grant select on ${source}.* to '${weakUser}'@'127.0.0.1';
  `);
  await mariadb(
    `
    create table customers (id int primary key, name varchar(200) not null, note text) character set utf8mb4;
    insert into customers select seq, concat('client ', seq, ' é中😀'), if(seq % 7 = 0, null, concat('it''s (', seq, '),(', seq, ') \\\\ "q"')) from seq_1_to_20000;
    create table documents (id int primary key, customer_id int not null, body longblob, foreign key (customer_id) references customers (id));
    insert into documents select seq, seq, unhex(concat(md5(seq), '00275c28292c3b0a', sha2(seq, 256))) from seq_1_to_20000;
    create table audit (id int auto_increment primary key, what varchar(100));
    create table empty_one (x int);
    create view big_customers as select id, name from customers where id > 19990;
    create trigger documents_audit after insert on documents for each row insert into audit (what) values (concat('doc ', new.id));
    insert into documents values (20001, 1, 0x00ff);
    create event purge_audit on schedule every 1 day do delete from audit where id < 0;
    delimiter //
    create procedure add_customer(in p_id int, in p_name varchar(200))
    begin
    INSERT INTO \`customers\` VALUES (p_id, p_name, 'from procedure');
    end //
    create function customer_count() returns int reads sql data return (select count(*) from customers) //
    delimiter ;
    `,
    source,
  );
});

afterAll(async () => {
  await mariadb(`
    drop database if exists ${source};
    drop database if exists ${restored};
    drop user if exists '${backupUser}'@'127.0.0.1';
    drop user if exists '${weakUser}'@'127.0.0.1';
  `);
});

async function checksums(database: string): Promise<string> {
  const tables = (await mariadb(`show full tables where Table_type = 'BASE TABLE'`, database))
    .split("\n")
    .map((line) => line.split("\t")[0] as string)
    .sort();
  const lines: string[] = [];
  for (const table of tables) {
    const [, checksum] = (await mariadb(`checksum table \`${table}\` extended`, database)).split("\t");
    const count = await mariadb(`select count(*) from \`${table}\``, database);
    lines.push(`${table} ${count} ${checksum}`);
  }
  return lines.join("\n");
}

async function definitions(database: string): Promise<string> {
  const show = async (sql: string, column: number) =>
    ((await mariadb(sql, database)).split("\t")[column] ?? "").split(database).join("<db>");
  return [
    await show("show create view big_customers", 1),
    await show("show create procedure add_customer", 2),
    await show("show create function customer_count", 2),
    await show("show create trigger documents_audit", 2),
    (await show("show create event purge_audit", 3)).replace(/STARTS '[^']*'/, "STARTS <t>"),
  ].join("\n");
}

async function firstChunk(body: Readable): Promise<Buffer> {
  for (;;) {
    const chunk = body.read() as Buffer | null;
    if (chunk) return chunk;
    await once(body, "readable");
  }
}

describe("quoteString", () => {
  test.each(["", "NO_BACKSLASH_ESCAPES"])(
    "gives a literal that no value can end early (sql_mode '%s')",
    async (mode) => {
      const hostile = ["x') as a, 1 as b; select 'pwned", "x\\'; select 'pwned", "trail\\", "it's", "a\\'b"];
      const sql = [
        `set session sql_mode = '${mode}';`,
        ...hostile.map((value) => `select 'row', ${quoteString(value)};`),
      ].join("\n");
      const rows = (await mariadb(sql)).trimEnd().split("\n");
      // One row per value: nothing ran but the selects. Without backslash escapes a backslash comes
      // out doubled; it is a name nobody would choose, and it cannot end the string.
      expect(rows).toHaveLength(hostile.length);
      expect(rows.map((row) => row.split("\t")[0])).toEqual(hostile.map(() => "row"));
      if (mode === "") expect(rows.map((row) => row.slice(4))).toEqual(hostile.map((v) => mariadbBatch(v)));
    },
  );
});

/** How the client's batch mode prints a value (-B escapes backslashes, tabs and newlines). */
function mariadbBatch(value: string): string {
  return value.replace(/\\/g, "\\\\");
}

describe("mysql adapter", () => {
  test("round trip into a new schema: checksums, row counts and definitions identical", async () => {
    const run = testRun();
    const stream = await createMysqlAdapter(target(), run.logger).backup(run);
    expect(stream.main).toMatchObject({ name: "data", format: "sql" });
    const restoreRun = testRun();
    const [stats, restoreStats] = await Promise.all([
      stream.done,
      createMysqlAdapter(asRoot(), restoreRun.logger).restore(
        stream.main.body,
        { kind: "database", name: restored },
        restoreRun,
      ),
    ]);
    expect(restoreStats).toMatchObject({ database: restored, created: true });
    expect(stats.tables).toEqual({
      [`${source}.audit`]: 1,
      [`${source}.customers`]: 20_000,
      [`${source}.documents`]: 20_001,
      [`${source}.empty_one`]: 0,
    });
    expect(stats.source?.server).toMatch(/MariaDB/);
    expect(stats.source?.["mariadb-dump"]).toMatch(/mariadb-dump/);

    const expected = await checksums(source);
    expect(expected).toContain("customers 20000 ");
    expect(await checksums(restored)).toBe(expected);
    expect(await definitions(restored)).toBe(await definitions(source));
    // The routines and the trigger work in the restored schema.
    await mariadb("call add_customer(30000, 'new 😀')", restored);
    expect(await mariadb("select customer_count()", restored)).toBe("20001");
    await mariadb("insert into documents values (30000, 30000, 0x01)", restored);
    expect(await mariadb("select count(*) from audit", restored)).toBe("2");
    expect(run.logText() + restoreRun.logText()).not.toContain(password);
  });

  test("row counts include tables dumped with a column list (an invisible column)", async () => {
    const schema = uniqueName("haven_invisible");
    await mariadb(`create database ${schema}`);
    try {
      await mariadb(
        "create table notes (id int, hidden int invisible default 5); insert into notes (id) values (1), (2), (3);",
        schema,
      );
      const run = testRun();
      const stream = await createMysqlAdapter(asRoot({ database: schema }), run.logger).backup(run);
      const [dump, stats] = await Promise.all([collect(stream.main.body), stream.done]);
      expect(dump.toString()).toContain("INSERT INTO `notes` (`id`, `hidden`) VALUES");
      expect(stats.tables).toEqual({ [`${schema}.notes`]: 3 });
    } finally {
      await mariadb(`drop database if exists ${schema}`);
    }
  });

  test("a restore that fails on a statement does not carry the statement's row data into its error", async () => {
    const adapter = createMysqlAdapter(asRoot(), testRun().logger);
    const schema = uniqueName("haven_rowdata");
    const dump = [
      "create table u (id int primary key, secret text);",
      "insert into u values (1, 'TOP-SECRET-ROW-1');",
      "insert into u valuez (2, 'TOP-SECRET-ROW-2');",
    ].join("\n");
    const error: unknown = await adapter
      .restore(Readable.from([Buffer.from(dump)]), { kind: "database", name: schema }, testRun())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "SOURCE_FAILED" });
    expect((error as Error).message).toMatch(/ERROR 1064 .* at line 3/);
    expect((error as Error).message).not.toContain("TOP-SECRET");
    // The schema the restore created is dropped again.
    expect(await mariadb(`show databases like '${schema}'`)).toBe("");
  });

  test("refuses to restore over a schema with objects unless forced", async () => {
    const adapter = createMysqlAdapter(asRoot(), testRun().logger);
    const refusedStream = await adapter.backup(testRun());
    const error: unknown = await adapter
      .restore(refusedStream.main.body, { kind: "database", name: restored }, testRun())
      .catch((e: unknown) => e);
    expect(isHavenError(error, "REFUSED")).toBe(true);
    await expect(refusedStream.done).rejects.toThrow();

    const stream = await adapter.backup(testRun());
    const [, stats] = await Promise.all([
      stream.done,
      adapter.restore(stream.main.body, { kind: "database", name: restored }, testRun(), { force: true }),
    ]);
    expect(stats).toMatchObject({ created: false });
    expect(await checksums(restored)).toBe(await checksums(source));

    // An input that fails half way over a schema: MySQL cannot roll the DDL back, so the error says
    // the schema is partly replaced and how to complete it, and the same restore again does.
    const backup = await adapter.backup(testRun());
    const [dump] = await Promise.all([collect(backup.main.body), backup.done]);
    const cut: unknown = await adapter
      .restore(cutShort(dump), { kind: "database", name: restored }, testRun(), { force: true })
      .catch((e: unknown) => e);
    expect(cut).toMatchObject({
      code: "TRANSIENT",
      message: `connection reset by the destination; schema ${restored} is now partly replaced (MySQL cannot roll back the dump's DROP and CREATE statements)`,
    });
    expect(isHavenError(cut) && cut.hint).toMatch(/^run the same restore again/);
    await adapter.restore(Readable.from([dump]), { kind: "database", name: restored }, testRun(), {
      force: true,
    });
    expect(await checksums(restored)).toBe(await checksums(source));
  });

  test("while the dump runs, no password in its arguments or environment; the option file is private and removed", async () => {
    const run = testRun();
    const stream = await createMysqlAdapter(target(), run.logger).backup(run);
    const head = await firstChunk(stream.main.body);
    const dump = await waitForChild("mariadb-dump");
    expect(dump.cmdline).toMatch(/--defaults-file=\S+my\.cnf --single-transaction/);
    expect(dump.cmdline).not.toContain(password);
    expect(dump.cmdline).not.toContain("p#w");
    expect(dump.environ).not.toContain("p#w");
    expect(dump.environ).not.toMatch(/^MYSQL_PWD=/m);
    const optionFile = /--defaults-file=(\S+)/.exec(dump.cmdline)?.[1] as string;
    expect((await stat(optionFile)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(optionFile))).mode & 0o777).toBe(0o700);
    const [rest] = await Promise.all([collect(stream.main.body), stream.done]);
    expect(Buffer.concat([head, rest]).toString()).toContain("INSERT INTO `customers` VALUES");
    await expect(stat(dirname(optionFile))).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("a wrong password is CREDENTIALS and never echoed", async () => {
    const wrong = "not-the-Password-42";
    const run = testRun();
    const adapter = createMysqlAdapter(target({ password: new Secret(wrong) }), run.logger);
    const error: unknown = await adapter.backup(run).catch((e: unknown) => e);
    expect(isHavenError(error, "CREDENTIALS")).toBe(true);
    expect((error as Error).message).toMatch(/Access denied for user/);
    const probe = await adapter.probe(new AbortController().signal);
    expect(probe.ok).toBe(false);
    expect(probe.checks.find((c) => c.name === "connection")?.hint).toMatch(/password/);
    for (const text of [String(error), JSON.stringify(probe), run.logText()])
      expect(text).not.toContain(wrong);
  });

  test("a dump killed half way rejects done; the option file is removed anyway", async () => {
    const stream = await createMysqlAdapter(target(), testRun().logger).backup(testRun());
    await firstChunk(stream.main.body);
    const dump = await waitForChild("mariadb-dump");
    const optionFile = /--defaults-file=(\S+)/.exec(dump.cmdline)?.[1] as string;
    process.kill(dump.pid, "SIGKILL");
    const error: unknown = await stream.done.catch((e: unknown) => e);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/mariadb-dump was killed by SIGKILL/);
    await expect(collect(stream.main.body)).rejects.toBe(error);
    await expect(stat(dirname(optionFile))).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("aborting the run kills the dump and rejects done with CANCELLED", async () => {
    const controller = new AbortController();
    const stream = await createMysqlAdapter(target(), testRun().logger).backup(testRun(controller.signal));
    await firstChunk(stream.main.body);
    await waitForChild("mariadb-dump");
    controller.abort();
    await expect(stream.done).rejects.toMatchObject({ code: "CANCELLED" });
    expect((await childrenOf()).filter((c) => c.comm === "mariadb-dump")).toEqual([]);
  });

  test("a missing schema is SOURCE_FAILED with a hint", async () => {
    const error: unknown = await createMysqlAdapter(asRoot({ database: "haven_nope_x" }), testRun().logger)
      .backup(testRun())
      .catch((e: unknown) => e);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/Unknown database 'haven_nope_x'/);
    expect(isHavenError(error) && error.hint).toMatch(/database name/);
  });

  test("probe: every check ok for a good target; missing grants reported with the fix", async () => {
    const good = await createMysqlAdapter(target(), testRun().logger).probe(new AbortController().signal);
    expect(good.checks.map((c) => [c.name, c.ok])).toEqual([
      ["connection", true],
      ["tools", true],
      ["permissions", true],
    ]);
    expect(good.ok).toBe(true);

    const weak = await createMysqlAdapter(
      target({ user: weakUser, password: new Secret("weak-pass") }),
      testRun().logger,
    ).probe(new AbortController().signal);
    expect(weak.ok).toBe(false);
    const permissions = weak.checks.find((c) => c.name === "permissions");
    expect(permissions).toMatchObject({ ok: false });
    expect(permissions?.hint).toMatch(/grant the backup user/);
  });
});
