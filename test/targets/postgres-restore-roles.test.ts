/**
 * A PostgreSQL restore onto a server that lacks the dump's roles: the usual first restore after a
 * disaster (a new server, no roles yet). pg_restore's `ERROR: role "x" does not exist` is about the
 * dump's owners and grants, not about the restoring login, so it must not read as a credentials
 * failure (exit 12, "check user and password"): the hint says to create the roles first, from the
 * snapshot's globals when it holds them.
 */
import { collect, psql, sharedPgTarget, testRun, uniqueName } from "../helpers/db";
import { Readable } from "node:stream";
import type { TargetConfigOf } from "../../src/config/types";
import { ExitCode } from "../../src/lib/errors";
import { createPostgresAdapter } from "../../src/targets/postgres/adapter";

const source = uniqueName("haven_pgroles_src");
const restored = uniqueName("haven_pgroles_dst");
const owner = uniqueName("haven_pgroles_owner");
const weak = uniqueName("haven_pgroles_weak");
let dump: Buffer;

function target(overrides: Partial<TargetConfigOf<"postgres">> = {}): TargetConfigOf<"postgres"> {
  return sharedPgTarget("roles-db", source, overrides);
}

beforeAll(async () => {
  await psql("postgres", `create database ${source}; create role ${owner} nologin;`);
  await psql(source, `create table owned (id int); alter table owned owner to ${owner};`);
  const stream = await createPostgresAdapter(target(), testRun().logger).backup(testRun());
  [dump] = await Promise.all([collect(stream.main.body), stream.done]);
  // The new server: neither the database nor its owner exist any more.
  await psql("postgres", `drop database ${source} with (force); drop role ${owner};`);
});

afterAll(async () => {
  await psql(
    "postgres",
    `drop database if exists ${source} with (force); drop database if exists ${restored} with (force); drop role if exists ${owner}; drop role if exists ${weak};`,
  );
});

test("a role the dump needs is missing: not a credentials error, and the hint says to create the roles first", async () => {
  const adapter = createPostgresAdapter(target(), testRun().logger);
  const globals = () => Promise.resolve(Readable.from([Buffer.from("-- roles\n")]));
  const error: unknown = await adapter
    .restore(Readable.from([dump]), { kind: "database", name: restored }, testRun(), { extra: { globals } })
    .catch((e: unknown) => e);
  expect(error).toMatchObject({
    code: "PERMANENT",
    exitCode: ExitCode.FAILED,
    message: expect.stringContaining(`role "${owner}" does not exist`) as string,
    hint: expect.stringMatching(/globals/) as string,
  });
  expect((error as { hint: string }).hint).not.toMatch(/password/);
  // The database the restore created is dropped again.
  expect(await psql("postgres", `select count(*) from pg_database where datname = '${restored}'`)).toBe("0");
});

test("without globals in the snapshot, the hint says how to get the roles from the old server", async () => {
  const adapter = createPostgresAdapter(target(), testRun().logger);
  const error: unknown = await adapter
    .restore(Readable.from([dump]), { kind: "database", name: restored }, testRun())
    .catch((e: unknown) => e);
  expect(error).toMatchObject({
    code: "PERMANENT",
    hint: expect.stringContaining("pg_dumpall --roles-only") as string,
  });
});

test("a login that may not own the dump's objects is told which role to restore as, not to grant read access", async () => {
  await psql("postgres", `create role ${owner} nologin; create role ${weak} login createdb;`);
  try {
    const adapter = createPostgresAdapter(target({ user: weak }), testRun().logger);
    const error: unknown = await adapter
      .restore(Readable.from([dump]), { kind: "database", name: restored }, testRun())
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "PERMANENT",
      hint: expect.stringContaining("the database's owner or a superuser") as string,
    });
  } finally {
    await psql(
      "postgres",
      `drop database if exists ${restored} with (force); drop role ${weak}; drop role ${owner};`,
    );
  }
});
