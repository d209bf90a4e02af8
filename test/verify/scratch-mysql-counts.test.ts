/**
 * The restore test's row counts in a MariaDB scratch schema lift a per-user statement time limit: a
 * DBA's limit for application queries must not fail the restore test of a large table.
 */
import { randomBytes } from "node:crypto";
import { Secret } from "../../src/lib/secret";
import { mysqlQuery } from "../../src/targets/mysql/client";
import { discoverMysqlTools, pickTool } from "../../src/targets/mysql/tools";
import { countQuery } from "../../src/verify/scratch/mysql";
import { MARIADB, mariadb } from "../helpers/db";

const suffix = randomBytes(4).toString("hex");
const schema = `haven_scratch_counts_${suffix}`;
const user = `hurried_${suffix}`;
const password = `pw-${randomBytes(8).toString("hex")}`;

beforeAll(async () => {
  await mariadb(`
    create database ${schema};
    use ${schema};
    create table big (id int);
    insert into big select seq from seq_1_to_2000000;
    create user '${user}'@'%' identified by '${password}' with max_statement_time 0.001;
    grant select on ${schema}.* to '${user}'@'%';
  `);
}, 60_000);

afterAll(async () => {
  await mariadb(`drop database if exists ${schema}; drop user if exists '${user}'@'%';`);
});

test("count(*) in the scratch schema outlasts a per-user max_statement_time", async () => {
  const conn = {
    host: MARIADB.host,
    port: MARIADB.port,
    user,
    password: new Secret(password),
    database: schema,
  };
  const tool = pickTool(await discoverMysqlTools(), "client", "mariadb");
  // The user's limit is in force: a full count cannot finish within 1 ms.
  await expect(mysqlQuery(conn, tool, `select count(*) from ${schema}.big`)).rejects.toThrow(
    /max_statement_time/,
  );
  const rows = await mysqlQuery(
    conn,
    tool,
    countQuery("mariadb", schema, [{ key: "shop.big", table: "big" }]),
  );
  expect(rows).toEqual([["shop.big", "2000000"]]);
});
