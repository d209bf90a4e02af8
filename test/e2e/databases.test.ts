/**
 * Issue 3 acceptance, end to end through the built CLI against the machine's PostgreSQL and MariaDB,
 * a private redis-server and sqlite3, with snapshots on s3rver (over HTTP) and on a filesystem:
 * round trips compared by content and schema, consent before restoring over the original, a wrong
 * password and a dump killed half way (exit 1, no snapshot, no secret in any log line), and no
 * password in any process's arguments or environment while a dump runs.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { readManifest } from "../../src/catalog/catalog";
import type { Manifest } from "../../src/catalog/manifest";
import { loadConfig } from "../../src/config/load";
import { silentLogger } from "../../src/lib/logger";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { createStorage } from "../../src/storage";
import { startRedisServer, startScratchRedis, type RedisServerHandle } from "../../src/targets/redis/scratch";
import { runCli, withoutProgress } from "../helpers/cli";
import { MARIADB, mariadb, PG, psql, runWithInput, uniqueName } from "../helpers/db";
import { s3DestinationYaml, tempDir } from "../helpers/s3-config";
import {
  bytesWritten,
  commandLine,
  descendantsOf,
  mariadbChecksums,
  mariadbDefinitions,
  pgFingerprint,
  pgSchemaText,
  pollUntil,
  processesExposing,
  redisContents,
  startCli,
  type ProcessInfo,
  type RunningCli,
} from "./helpers-db";

const MiB = 1024 * 1024;
const run = uniqueName("hvn_e2e");
const names = {
  pgSource: `${run}_pg_src`,
  pgRestored: `${run}_pg_dst`,
  pgBig: `${run}_pg_big`,
  pgOwner: `${run}_owner`,
  mySource: `${run}_my_src`,
  myRestored: `${run}_my_dst`,
  myBig: `${run}_my_big`,
  myUser: `${run}_bk`,
};
const bucket = `e2e-db-${randomBytes(4).toString("hex")}`;
// The random token is what the scans look for: it survives any quoting or escaping of the password.
const passwordToken = randomBytes(8).toString("hex");
const mysqlPassword = `Pw#"q\\ 'x-${passwordToken}`;
const wrongToken = randomBytes(8).toString("hex");
const redisPassword = `redis ${randomBytes(6).toString("hex")}`;

let s3: S3rverHandle;
let redisSource: RedisServerHandle;
let work: string;
let nas: string;
let configPath: string;

const sqlString = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const cli = (...args: string[]) => runCli(["-c", configPath, ...args]);

beforeAll(async () => {
  work = await tempDir("haven-e2e-db");
  nas = join(work, "nas");
  await mkdir(nas); // the destination's root: Haven never creates it
  s3 = await startS3rver({ buckets: [bucket] });
  redisSource = await startRedisServer({ password: redisPassword, config: ["repl-diskless-sync-delay 0"] });
  await writeFile(join(work, "mysql-password"), `${mysqlPassword}\n`, { mode: 0o600 });
  await writeFile(join(work, "mysql-wrong-password"), `wrong-${wrongToken}\n`, { mode: 0o600 });
  await writeFile(join(work, "redis-password"), redisPassword, { mode: 0o600 });
  const mysqlTarget = (database: string, user: string, passwordFile?: string) => [
    "    type: mysql",
    `    host: ${MARIADB.host}`,
    `    port: ${MARIADB.port}`,
    `    user: ${user}`,
    ...(passwordFile ? [`    passwordFile: ${join(work, passwordFile)}`] : []),
    `    database: ${database}`,
  ];
  const pgTarget = (database: string) => [
    "    type: postgres",
    `    host: ${PG.host}`,
    `    port: ${PG.port}`,
    `    user: ${PG.user}`,
    `    database: ${database}`,
  ];
  configPath = join(work, "haven.yaml");
  await writeFile(
    configPath,
    [
      "destinations:",
      s3DestinationYaml(s3, bucket),
      "  nas:",
      "    type: filesystem",
      `    path: ${nas}`,
      "targets:",
      "  pg:",
      ...pgTarget(names.pgSource),
      "    destinations: [primary]",
      "  pg-big:",
      ...pgTarget(names.pgBig),
      "    destinations: [nas]",
      "  shop:",
      ...mysqlTarget(names.mySource, MARIADB.user),
      "    destinations: [primary]",
      "  shop-pw:",
      ...mysqlTarget(names.myBig, names.myUser, "mysql-password"),
      "    destinations: [nas]",
      "  shop-wrong:",
      ...mysqlTarget(names.myBig, names.myUser, "mysql-wrong-password"),
      "    destinations: [nas]",
      "  cache:",
      "    type: redis",
      "    host: 127.0.0.1",
      `    port: ${redisSource.port}`,
      `    passwordFile: ${join(work, "redis-password")}`,
      "    destinations: [nas]",
      "  app:",
      "    type: sqlite",
      `    path: ${join(work, "app.db")}`,
      "    destinations: [nas]",
      "",
    ].join("\n"),
  );
}, 60_000);

afterAll(async () => {
  await s3?.stop();
  await redisSource?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The manifest of a snapshot, read from the destination as a fresh install would. */
async function manifestOf(destination: string, target: string, id: string): Promise<Manifest> {
  const config = await loadConfig(configPath);
  const storage = createStorage(config.destinations[destination]!, silentLogger);
  try {
    return await readManifest(storage, target, id);
  } finally {
    await storage.close();
  }
}

async function listed(target: string): Promise<Array<{ id: string; destination: string; state: string }>> {
  const result = await cli("snapshots", target, "-o", "json");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Array<{ id: string; destination: string; state: string }>;
}

/** Regular files under a directory, recursively (none when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** A flag set once the CLI has exited, so a polling loop stops with it instead of running into a timeout. */
function exitFlag(running: RunningCli): { readonly exited: boolean } {
  const flag = { exited: false };
  void running.result.then(() => (flag.exited = true));
  return flag;
}

describe("PostgreSQL through the CLI, stored on s3rver", () => {
  let snapshotId: string;

  beforeAll(async () => {
    await psql("postgres", `create database ${names.pgSource}; create role ${names.pgOwner} nologin;`);
    await psql(
      names.pgSource,
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
      alter table public.owned owner to ${names.pgOwner};
      analyze;
      `,
    );
  }, 180_000);

  afterAll(async () => {
    for (const db of [names.pgSource, names.pgRestored]) {
      await psql("postgres", `drop database if exists ${db} with (force);`);
    }
    await psql("postgres", `drop role if exists ${names.pgOwner};`);
  });

  const sequences = (db: string) =>
    psql(
      db,
      "select last_value || ' ' || is_called from audit.ticket_seq union all select last_value || ' ' || is_called from sales.orders_id_seq",
    );

  test("backup → snapshots → restore --to a new database: counts, contents and schema identical", async () => {
    const backup = await cli("backup", "pg", "--direct", "-o", "json");
    expect(withoutProgress(backup.stderr)).toBe("");
    expect(backup.code).toBe(0);
    const result = JSON.parse(backup.stdout) as { state: string; snapshotId: string };
    expect(result.state).toBe("committed");
    snapshotId = result.snapshotId;

    expect(await listed("pg")).toEqual([
      expect.objectContaining({ id: snapshotId, destination: "primary", state: "committed" }),
    ]);
    const manifest = await manifestOf("primary", "pg", snapshotId);
    expect(manifest.stats.tables).toEqual({ "audit.log": 1, "public.owned": 2, "sales.orders": 200_001 });
    expect(manifest.payload[0]).toMatchObject({ format: "pgdump", compression: "zstd" });
    expect(manifest.source).toMatchObject({
      database: names.pgSource,
      server: expect.stringMatching(/^PostgreSQL \d+/),
    });

    const restore = await cli("restore", "pg", "--to", names.pgRestored);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`snapshot ${snapshotId}`);
    // A database restore counts no files: it must not say "0 files" (seen in an operator drill).
    expect(restore.stdout).toMatch(new RegExp(`to database ${names.pgRestored}: [0-9.]+ [KMG]?i?B in `));

    const expected = await pgFingerprint(names.pgSource);
    expect(expected).toContain("sales.orders 200001 ");
    expect(await pgFingerprint(names.pgRestored)).toBe(expected);
    expect(await sequences(names.pgRestored)).toBe(await sequences(names.pgSource));
    expect(await pgSchemaText(names.pgRestored)).toBe(await pgSchemaText(names.pgSource));
    // The role-owned table kept its owner; the function and the trigger work.
    expect(await psql(names.pgRestored, "select tableowner from pg_tables where tablename = 'owned'")).toBe(
      names.pgOwner,
    );
    await psql(names.pgRestored, "insert into sales.orders (customer) values ('after restore')");
    expect(await psql(names.pgRestored, "select count(*) from audit.log")).toBe("2");
  });

  test("over the original: refused without --yes (exit 2), refused over objects without --force, done with both", async () => {
    const expected = await pgFingerprint(names.pgSource);
    const schema = await pgSchemaText(names.pgSource);
    const seqs = await sequences(names.pgSource);

    const refused = await cli("restore", "pg");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");

    await psql(
      names.pgSource,
      "delete from sales.orders where id <= 1000; drop view sales.big_orders; select nextval('audit.ticket_seq');",
    );
    expect(await pgFingerprint(names.pgSource)).not.toBe(expected);

    const noForce = await cli("restore", "pg", "--yes");
    expect(noForce.code).toBe(1);
    expect(noForce.stderr).toMatch(/refusing to restore over them/);

    const restore = await cli("restore", "pg", "--yes", "--force");
    expect(withoutProgress(restore.stderr)).toBe("");
    expect(restore.code).toBe(0);
    expect(await pgFingerprint(names.pgSource)).toBe(expected);
    expect(await sequences(names.pgSource)).toBe(seqs);
    expect(await pgSchemaText(names.pgSource)).toBe(schema);
  });
});

describe("PostgreSQL failure: pg_dump killed half way", () => {
  beforeAll(async () => {
    await psql("postgres", `create database ${names.pgBig};`);
    // About 170 MB of dump: seconds of pg_dump output, time enough to find the process and kill it.
    await psql(
      names.pgBig,
      `create table bulk (id int primary key, body text, amount numeric);
       insert into bulk select g, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text), g * 1.5
       from generate_series(1, 1500000) g;`,
    );
  }, 180_000);

  afterAll(async () => {
    await psql("postgres", `drop database if exists ${names.pgBig} with (force);`);
  });

  test("exit 1 with the reason, no snapshot listed, nothing left on the destination", async () => {
    const backup = startCli(["-c", configPath, "backup", "pg-big", "--direct"]);
    const state = exitFlag(backup);
    const whileRunning = async <T>(value: T | undefined): Promise<T | undefined> => {
      if (state.exited) throw new Error(`the backup ended first: ${JSON.stringify(await backup.result)}`);
      return value;
    };
    // The dump itself, not the `pg_dump --version` check that runs before it.
    const isDump = async (p: ProcessInfo) =>
      p.comm === "pg_dump" && (await commandLine(p.pid)).includes("--format=custom");
    const dump = await pollUntil("pg_dump below the CLI", async () => {
      for (const p of await descendantsOf(backup.pid)) if (await isDump(p)) return p;
      return whileRunning(undefined);
    });
    // Half way: the dump has already written data into the pipe.
    await pollUntil("16 MiB out of pg_dump", async () =>
      whileRunning((await bytesWritten(dump.pid)) > 16 * MiB || undefined),
    );
    process.kill(dump.pid, "SIGKILL");

    const result = await backup.result;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/backup of pg-big failed: pg_dump was killed by SIGKILL/);
    expect(await listed("pg-big")).toEqual([]);
    expect(await filesUnder(join(nas, "pg-big"))).toEqual([]);
  });
});

describe("MariaDB through the CLI, stored on s3rver", () => {
  const objects = { views: ["big_customers"], procedures: ["add_customer"], triggers: ["documents_audit"] };
  let snapshotId: string;

  beforeAll(async () => {
    await mariadb(`create database ${names.mySource} character set utf8mb4;`);
    await mariadb(
      `
      create table customers (id int primary key, name varchar(200) not null, note text) character set utf8mb4;
      insert into customers select seq, concat('client ', seq, ' é中😀'), if(seq % 7 = 0, null, concat('it''s (', seq, '),(', seq, ') \\\\ "q"')) from seq_1_to_20000;
      create table documents (id int primary key, customer_id int not null, body longblob, foreign key (customer_id) references customers (id));
      insert into documents select seq, seq, unhex(concat(md5(seq), '00275c28292c3b0a', sha2(seq, 256))) from seq_1_to_20000;
      create table audit (id int auto_increment primary key, what varchar(100));
      create view big_customers as select id, name from customers where id > 19990;
      create trigger documents_audit after insert on documents for each row insert into audit (what) values (concat('doc ', new.id));
      insert into documents values (20001, 1, 0x00ff);
      delimiter //
      create procedure add_customer(in p_id int, in p_name varchar(200))
      begin
      INSERT INTO \`customers\` VALUES (p_id, p_name, 'from procedure');
      end //
      delimiter ;
      `,
      names.mySource,
    );
  }, 120_000);

  afterAll(async () => {
    await mariadb(`drop database if exists ${names.mySource}; drop database if exists ${names.myRestored};`);
  });

  test("backup → snapshots → restore --to a new schema: checksums, counts and definitions identical", async () => {
    const backup = await cli("backup", "shop", "--direct", "-o", "json");
    expect(withoutProgress(backup.stderr)).toBe("");
    expect(backup.code).toBe(0);
    const result = JSON.parse(backup.stdout) as { state: string; snapshotId: string };
    expect(result.state).toBe("committed");
    snapshotId = result.snapshotId;
    expect(await listed("shop")).toEqual([
      expect.objectContaining({ id: snapshotId, destination: "primary", state: "committed" }),
    ]);
    expect((await manifestOf("primary", "shop", snapshotId)).stats.tables).toEqual({
      [`${names.mySource}.audit`]: 1,
      [`${names.mySource}.customers`]: 20_000,
      [`${names.mySource}.documents`]: 20_001,
    });

    const restore = await cli("restore", "shop", "--to", names.myRestored);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`snapshot ${snapshotId}`);

    const expected = await mariadbChecksums(names.mySource);
    expect(expected).toContain("customers 20000 ");
    expect(await mariadbChecksums(names.myRestored)).toBe(expected);
    expect(await mariadbDefinitions(names.myRestored, objects)).toBe(
      await mariadbDefinitions(names.mySource, objects),
    );
    expect(await mariadb("select name from customers where id = 7", names.myRestored)).toBe("client 7 é中😀");
    // The procedure and the trigger work in the restored schema.
    await mariadb("call add_customer(30000, 'new 😀')", names.myRestored);
    await mariadb("insert into documents values (30000, 30000, 0x01)", names.myRestored);
    expect(await mariadb("select count(*) from audit", names.myRestored)).toBe("2");
  });

  test("over the original: refused without --yes (exit 2), refused over objects without --force, done with both", async () => {
    const expected = await mariadbChecksums(names.mySource);
    const definitions = await mariadbDefinitions(names.mySource, objects);

    const refused = await cli("restore", "shop");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");

    await mariadb(
      "delete from documents where customer_id <= 100; delete from customers where id <= 100; drop view big_customers;",
      names.mySource,
    );
    expect(await mariadbChecksums(names.mySource)).not.toBe(expected);

    const noForce = await cli("restore", "shop", "--yes");
    expect(noForce.code).toBe(1);
    expect(noForce.stderr).toMatch(/refusing to restore over them/);

    const restore = await cli("restore", "shop", "--yes", "--force");
    expect(withoutProgress(restore.stderr)).toBe("");
    expect(restore.code).toBe(0);
    expect(await mariadbChecksums(names.mySource)).toBe(expected);
    expect(await mariadbDefinitions(names.mySource, objects)).toBe(definitions);
  });
});

describe("MariaDB with a password: never in a process list or a log line", () => {
  beforeAll(async () => {
    await mariadb(`
      create database ${names.myBig} character set utf8mb4;
      create user '${names.myUser}'@'127.0.0.1' identified by ${sqlString(mysqlPassword)};
      grant all on ${names.myBig}.* to '${names.myUser}'@'127.0.0.1';
      grant select on mysql.proc to '${names.myUser}'@'127.0.0.1';
    `);
    // About 130 MB of dump: a second or more of mariadb-dump, long enough for many scans of /proc.
    await mariadb(
      `create table bulk (id int primary key, body text) character set utf8mb4;
       insert into bulk select seq, concat(md5(seq), sha2(seq, 256), md5(seq + 1), sha2(seq + 1, 256)) from seq_1_to_700000;`,
      names.myBig,
    );
  }, 180_000);

  afterAll(async () => {
    await mariadb(
      `drop database if exists ${names.myBig}; drop user if exists '${names.myUser}'@'127.0.0.1';`,
    );
  });

  test("a wrong password: exit 1 with the reason, no snapshot, and no password in any debug log line", async () => {
    const result = await cli("--log-level", "debug", "backup", "shop-wrong", "--direct");
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/backup of shop-wrong failed: .*Access denied for user/);
    // Debug logging was on: the scan below read real log lines, not an empty stream.
    expect(result.stderr).toMatch(/"level":\s*(50|"error")/);
    for (const token of [wrongToken, passwordToken]) {
      expect(result.stdout).not.toContain(token);
      expect(result.stderr).not.toContain(token);
    }
    expect(await listed("shop-wrong")).toEqual([]);
    expect(await filesUnder(join(nas, "shop-wrong"))).toEqual([]);
  });

  test("while the dump runs, no process on the machine shows the password in its arguments or environment", async () => {
    // The scanner itself finds a token in another process's arguments and environment.
    const control = spawn(
      process.execPath,
      ["-e", "setTimeout(() => {}, 60000)", `control-${passwordToken}`],
      {
        env: { CONTROL: passwordToken },
        stdio: "ignore",
      },
    );
    const controlExit = once(control, "exit");
    try {
      await once(control, "spawn");
      const seen = (await processesExposing(passwordToken)).filter((e) => e.pid === control.pid);
      expect(seen.map((e) => e.where).sort()).toEqual(["cmdline", "environ"]);
    } finally {
      control.kill();
      await controlExit;
    }

    const backup = startCli(["-c", configPath, "--log-level", "debug", "backup", "shop-pw", "--direct"]);
    const state = exitFlag(backup);
    // The data dump (not a `--version` check or the probe's `--no-data` dump): its pid, or undefined.
    const runningDump = async () => {
      for (const p of await descendantsOf(backup.pid)) {
        if (p.comm !== "mariadb-dump" && p.comm !== "mysqldump") continue;
        const args = await commandLine(p.pid);
        if (args.includes("--single-transaction") && !args.includes("--no-data")) return p.pid;
      }
      return undefined;
    };
    const exposures: Array<{ pid: number; where: string }> = [];
    let scansDuringDump = 0;
    while (!state.exited) {
      const before = await runningDump();
      exposures.push(...(await processesExposing(passwordToken)));
      // A scan counts only if the same dump ran from before it started until after it ended.
      if (before !== undefined && (await runningDump()) === before) scansDuringDump++;
    }
    const result = await backup.result;
    expect(result.stderr).not.toMatch(/"level":\s*(40|50|"warn"|"error")/);
    expect(result.code).toBe(0);
    expect(exposures).toEqual([]);
    expect(scansDuringDump).toBeGreaterThan(0);
    expect(result.stderr).toMatch(/backup committed/);
    expect(result.stdout + result.stderr).not.toContain(passwordToken);
    expect(await listed("shop-pw")).toEqual([
      expect.objectContaining({ destination: "nas", state: "committed" }),
    ]);
  });
});

describe("Redis through the CLI: RDB to a file, loaded in a scratch server", () => {
  beforeAll(async () => {
    const connect = async (db: number) => {
      const redis = new Redis({
        host: "127.0.0.1",
        port: redisSource.port,
        password: redisPassword,
        db,
        lazyConnect: true,
      });
      await redis.connect();
      return redis;
    };
    const [db0, db3] = await Promise.all([connect(0), connect(3)]);
    try {
      await db0.set("greeting", "héllo wörld");
      await db0.set(Buffer.from([0, 1, 255, 10]), randomBytes(100));
      await db0.set("session", "expires", "EX", 3600);
      await db0.rpush("queue", ...Array.from({ length: 1000 }, (_, i) => `job-${i}`));
      await db0.sadd("tags", "a", "b", "c");
      await db0.zadd("scores", 1, "one", 2.5, "two", -3, "minus");
      await db0.hset("user:1", { name: "Ada", email: "ada@example.com" });
      await db0.xadd("events", "*", "type", "login", "user", "1");
      const bulk = db0.pipeline();
      for (let i = 0; i < 200; i++) bulk.set(`blob:${i}`, randomBytes(16 * 1024));
      await bulk.exec();
      await db3.set("other-db", "yes");
      await db3.hset("h", "f", "v");
    } finally {
      db0.disconnect();
      db3.disconnect();
    }
  });

  test("backup → restore --to a file path → a scratch server holds the same keys, values and TTLs", async () => {
    const backup = await cli("backup", "cache", "--direct", "-o", "json");
    expect(withoutProgress(backup.stderr)).toBe("");
    expect(backup.code).toBe(0);
    const { snapshotId } = JSON.parse(backup.stdout) as { snapshotId: string };
    expect(await listed("cache")).toEqual([expect.objectContaining({ id: snapshotId, destination: "nas" })]);
    expect((await manifestOf("nas", "cache", snapshotId)).stats).toMatchObject({ keys: 210 });

    // A running server cannot load an RDB: restoring over the original is refused with the procedure.
    const original = await cli("restore", "cache", "--yes");
    expect(original.code).toBe(1);
    expect(original.stderr).toContain("CONFIG GET dir");

    await mkdir(join(work, "rdb"));
    const rdbPath = join(work, "rdb", "dump.rdb");
    const restore = await cli("restore", "cache", "--to", rdbPath);
    expect(restore.code).toBe(0);
    const again = await cli("restore", "cache", "--to", rdbPath);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("refusing to overwrite");

    const scratch = await startScratchRedis(createReadStream(rdbPath), { password: redisPassword });
    try {
      expect(await scratch.keyspace()).toEqual({ db0: 208, db3: 2 });
      for (const db of [0, 3]) {
        const expected = await redisContents(redisSource.port, redisPassword, db);
        expect(expected.size).toBeGreaterThan(0);
        expect(await redisContents(scratch.port, redisPassword, db)).toEqual(expected);
      }
    } finally {
      await scratch.stop();
    }
  });
});

describe("SQLite through the CLI: written to during the backup", () => {
  const sqlite = (database: string, sql: string) =>
    runWithInput("sqlite3", ["-bail", "-cmd", ".timeout 30000", database], sql);

  /** Ledger invariants: every batch of 10 rows sums to 0 and `totals` counts the rows. A torn copy breaks them. */
  async function ledgerState(path: string) {
    const [rows, totals, unbalanced, check] = (
      await sqlite(
        path,
        "select count(*) from ledger; select rows from totals; select count(*) from balances where balance <> 0; pragma integrity_check;",
      )
    ).split("\n");
    return { rows: Number(rows), totals: Number(totals), unbalanced: Number(unbalanced), check };
  }

  /** Another process committing one balanced batch per transaction until stopped; counts its commits. */
  function startWriter(path: string) {
    const child = spawn(
      "sqlite3",
      ["-bail", "-cmd", ".timeout 30000", "-cmd", "pragma synchronous = off", path],
      {
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    const acknowledgements = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    let commits = 0;
    let stopping = false;
    const waiters: Array<{ count: number; resolve: () => void }> = [];
    const finished = (async () => {
      for (let batch = 1_000_000; !stopping; batch++) {
        const rows = Array.from({ length: 10 }, (_, k) => `(${batch}, ${k % 2 === 0 ? 5 : -5}, 'w')`).join(
          ",",
        );
        child.stdin.write(
          `begin immediate; insert into ledger (batch, amount, memo) values ${rows}; update totals set rows = rows + 10; commit; select 'committed';\n`,
        );
        // The acknowledgement line is printed only after the commit: it is the event we count.
        if ((await acknowledgements.next()).done) throw new Error("the writer died");
        commits++;
        for (const waiter of waiters.filter((w) => commits >= w.count)) waiter.resolve();
      }
      child.stdin.end();
      const [code] = (await once(child, "close")) as [number | null];
      if (code !== 0) throw new Error(`the writer exited with ${code}`);
    })();
    return {
      committed: () => commits,
      /** Resolves once `count` more transactions than now have committed. */
      more(count: number): Promise<void> {
        const target = commits + count;
        return new Promise((resolve, reject) => {
          waiters.push({ count: target, resolve });
          finished.catch(reject);
        });
      },
      async stop() {
        stopping = true;
        await finished;
      },
    };
  }

  test("the restored file is consistent and openable; it holds the writer's commits from before the backup", async () => {
    const source = join(work, "app.db");
    await sqlite(
      source,
      `pragma journal_mode = wal;
       create table ledger (id integer primary key, batch integer not null, amount integer not null, memo text);
       create table totals (id integer primary key check (id = 1), rows integer not null);
       insert into totals values (1, 0);
       create index ledger_batch on ledger (batch);
       create view balances as select batch, sum(amount) as balance from ledger group by batch;
       with recursive b(n) as (select 1 union all select n + 1 from b where n < 5000)
         insert into ledger (batch, amount, memo) select n, case when k.k % 2 = 0 then 5 else -5 end, hex(randomblob(200))
         from b cross join (select 1 as k union all select 2 union all select 3 union all select 4 union all select 5
                            union all select 6 union all select 7 union all select 8 union all select 9 union all select 10) k;
       update totals set rows = (select count(*) from ledger);`,
    );
    const writer = startWriter(source);
    try {
      await writer.more(50);
      const rowsBeforeBackup = 50_000 + writer.committed() * 10;
      const backup = await cli("backup", "app", "--direct", "-o", "json");
      expect(withoutProgress(backup.stderr)).toBe("");
      expect(backup.code).toBe(0);
      expect(JSON.parse(backup.stdout)).toMatchObject({ state: "committed" });
      // The writer keeps going after the backup: the copy cannot hold what it commits from here on.
      await writer.more(50);
      await writer.stop();

      const restoredPath = join(work, "restored-app.db");
      const restore = await cli("restore", "app", "--to", restoredPath);
      expect(restore.code).toBe(0);

      const restored = await ledgerState(restoredPath);
      const final = await ledgerState(source);
      expect(final).toMatchObject({ check: "ok", unbalanced: 0, rows: 50_000 + writer.committed() * 10 });
      expect(restored).toMatchObject({ check: "ok", unbalanced: 0, totals: restored.rows });
      expect(restored.rows).toBeGreaterThanOrEqual(rowsBeforeBackup);
      expect(restored.rows).toBeLessThan(final.rows);

      // A database restores only whole: --include would restore every table while one was asked for.
      const partialPath = join(work, "partial-app.db");
      const partial = await cli("restore", "app", "--to", partialPath, "--include", "ledger");
      expect(partial.code).toBe(2);
      expect(partial.stderr).toContain("--include is for files targets");
      await expect(stat(partialPath)).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await writer.stop().catch(() => undefined);
    }
  });
});
