/**
 * A MariaDB restore over an existing schema that waits for a table's metadata lock (another session
 * read the table in a transaction it has not ended) names the sessions with an open transaction and
 * how to end them, while it waits, and goes on once the lock is released. Before, it waited without a
 * word, for lock_wait_timeout: a year by default.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { LOCK_WATCH } from "../../src/targets/lock-watch";
import { createMysqlAdapter } from "../../src/targets/mysql/adapter";
import {
  collect,
  commonTargetFields,
  MARIADB,
  mariadb,
  mariadbArgs,
  restoreUntilLogged,
  testRun,
  uniqueName,
  waitUntil,
} from "../helpers/db";

const schema = uniqueName("haven_my_locked");
const intervalMs = LOCK_WATCH.intervalMs;

beforeAll(async () => {
  LOCK_WATCH.intervalMs = 200;
  await mariadb(
    `create database ${schema}; create table ${schema}.t (id int primary key) engine=innodb; insert into ${schema}.t values (1), (2), (3);`,
  );
});

afterAll(async () => {
  LOCK_WATCH.intervalMs = intervalMs;
  await mariadb(`drop database if exists ${schema}`);
});

test("a restore kept waiting by a metadata lock names the open transactions, then goes on when they end", async () => {
  const adapter = createMysqlAdapter(
    {
      ...commonTargetFields("locked-db"),
      type: "mysql",
      host: MARIADB.host,
      port: MARIADB.port,
      user: MARIADB.user,
      database: schema,
    },
    testRun().logger,
  );
  const backup = await adapter.backup(testRun());
  const [dump] = await Promise.all([collect(backup.main.body), backup.done]);

  // An application's session: it read the table in a transaction it keeps open.
  const holder = spawn("mariadb", [...mariadbArgs(schema), "--unbuffered"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let output = "";
  holder.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  holder.stdin.write("select connection_id(); begin; select count(*) from t;\n");
  await waitUntil(() => output.split("\n").length >= 3, 10_000);
  const holderId = Number(output.split("\n")[0]);

  try {
    const {
      line: warning,
      settledFirst,
      restored,
    } = await restoreUntilLogged(adapter, dump, schema, "metadata lock");
    expect(settledFirst).toBe(false);
    expect(JSON.parse(warning)).toMatchObject({ level: 40, openTransactions: [holderId] });
    expect(warning).toContain(`id ${holderId} (user root, from 127.0.0.1`);
    expect(warning).toContain(`KILL ${holderId}`);

    holder.stdin.end("commit;\n");
    await once(holder, "exit");
    await expect(restored).resolves.toMatchObject({ created: false });
  } finally {
    // SIGKILL: its open transaction would hold the schema's drop in afterAll.
    holder.kill("SIGKILL");
  }
  expect(await mariadb(`select count(*) from ${schema}.t`)).toBe("3");
});
