/**
 * The restore test's row counts in a scratch database are made with the role's statement_timeout
 * lifted: a DBA's timeout for application queries must not fail a restore test of a large table.
 */
import { Client } from "pg";
import { countRestoredRows } from "../../src/verify/scratch/postgres";
import { PG, psql, uniqueName } from "../helpers/db";

const database = uniqueName("haven_scratch_counts");
const role = uniqueName("haven_hurried");

beforeAll(async () => {
  await psql(
    "postgres",
    `create database ${database}; create role ${role} login; alter role ${role} set statement_timeout = '1ms';`,
  );
  await psql(
    database,
    `create table public.big (id int, label text);
     insert into public.big select g, 'row ' || g from generate_series(1, 300000) g;
     grant select on public.big to ${role};`,
  );
});

afterAll(async () => {
  await psql("postgres", `drop database if exists ${database} with (force); drop role if exists ${role};`);
});

test("count(*) in the scratch database outlasts the role's statement_timeout", async () => {
  const client = new Client({ host: PG.host, port: PG.port, user: role, database });
  await client.connect();
  try {
    // The role's timeout is in force: a full count cannot finish within 1 ms.
    await expect(client.query("select count(*) from public.big")).rejects.toThrow(/statement timeout/);
    expect(await countRestoredRows(client, ["public.big", "public.gone"])).toEqual({
      "public.big": 300000,
      "public.gone": null,
    });
  } finally {
    await client.end();
  }
});
