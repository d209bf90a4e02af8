/**
 * A restore over an existing database that waits on a lock held by another session (an application
 * idle in a transaction) says who holds it and how to end it, while it waits, and goes on once the
 * lock is released. Before, it waited without a word.
 */
import { Client } from "pg";
import { createPostgresAdapter } from "../../src/targets/postgres/adapter";
import { LOCK_WATCH } from "../../src/targets/lock-watch";
import { collect, PG, psql, restoreUntilLogged, sharedPgTarget, testRun, uniqueName } from "../helpers/db";

const database = uniqueName("haven_pg_locked");
const intervalMs = LOCK_WATCH.intervalMs;

beforeAll(async () => {
  LOCK_WATCH.intervalMs = 200;
  await psql("postgres", `create database ${database}`);
  await psql(database, "create table t (id int primary key); insert into t select generate_series(1, 100);");
});

afterAll(async () => {
  LOCK_WATCH.intervalMs = intervalMs;
  await psql("postgres", `drop database if exists ${database} with (force)`);
});

test("a restore kept waiting by another session's lock names that session, then goes on when it ends", async () => {
  const adapter = createPostgresAdapter(sharedPgTarget("locked-db", database), testRun().logger);
  const backup = await adapter.backup(testRun());
  const [dump] = await Promise.all([collect(backup.main.body), backup.done]);

  const holder = new Client({ ...PG, database, application_name: "billing-app" });
  await holder.connect();
  try {
    const holderPid = (await holder.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
    await holder.query("begin");
    await holder.query("select count(*) from t"); // holds a lock that DROP TABLE t must wait for

    const {
      line: warning,
      settledFirst,
      restored,
    } = await restoreUntilLogged(adapter, dump, database, "pg_restore has waited");
    expect(settledFirst).toBe(false);
    expect(JSON.parse(warning)).toMatchObject({
      level: 40,
      blockingPids: [holderPid],
      msg: expect.stringContaining(
        `held by pid ${holderPid} (user postgres, application "billing-app", from 127.0.0.1, idle in transaction`,
      ) as string,
    });
    expect(warning).toContain(`SELECT pg_terminate_backend(${holderPid})`);

    await holder.query("commit");
    await expect(restored).resolves.toMatchObject({ created: false });
  } finally {
    await holder.end();
  }
  expect(await psql(database, "select count(*) from t")).toBe("100");
});
