/**
 * The postgres adapter over verified TLS, on a private cluster whose certificate a throwaway CA
 * signed: the probe (the `pg` client) must trust exactly the CA pg_dump (libpq) trusts, so that
 * `haven doctor` passes a target whose backups work and fails one whose backups cannot.
 */
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TargetConfigOf } from "../../src/config/types";
import { Secret } from "../../src/lib/secret";
import { createPostgresAdapter } from "../../src/targets/postgres/adapter";
import {
  collect,
  psql,
  scratchPgTarget,
  startScratchPostgres,
  testRun,
  type ScratchPostgres,
} from "../helpers/db";

let server: ScratchPostgres;
let home: string;
const originalHome = process.env.HOME;

function target(overrides: Partial<TargetConfigOf<"postgres">> = {}): TargetConfigOf<"postgres"> {
  // verify-full, with no CA named: libpq's ~/.postgresql/root.crt.
  const tls = { enabled: true, rejectUnauthorized: true };
  return scratchPgTarget("tls-db", server, { tls, ...overrides });
}

beforeAll(async () => {
  server = await startScratchPostgres({ tls: true });
  await psql("postgres", "create database app", server.port, server.password);
  await psql(
    "app",
    "create table t as select g as id from generate_series(1, 3) g",
    server.port,
    server.password,
  );
  home = await mkdtemp(join(tmpdir(), "haven-pg-tls-home-"));
  process.env.HOME = home;
});

afterAll(async () => {
  process.env.HOME = originalHome;
  await rm(home, { recursive: true, force: true });
  await server?.stop();
});

describe("postgres over verified TLS without tls.ca", () => {
  test("a CA in ~/.postgresql/root.crt, which pg_dump trusts, passes the probe and backs up", async () => {
    await mkdir(join(home, ".postgresql"), { recursive: true });
    await copyFile(server.caFile as string, join(home, ".postgresql", "root.crt"));
    try {
      const adapter = createPostgresAdapter(target(), testRun().logger);
      const probe = await adapter.probe(new AbortController().signal);
      expect(probe.checks.filter((c) => !c.ok)).toEqual([]);
      const run = testRun();
      const stream = await adapter.backup(run);
      const [dump, stats] = await Promise.all([collect(stream.main.body), stream.done]);
      expect(dump.subarray(0, 5).toString()).toBe("PGDMP");
      expect(stats.tables).toEqual({ "public.t": 3 });
    } finally {
      await rm(join(home, ".postgresql"), { recursive: true, force: true });
    }
  });

  test("without root.crt the probe fails as pg_dump would, naming the file and the fix", async () => {
    const adapter = createPostgresAdapter(target(), testRun().logger);
    const probe = await adapter.probe(new AbortController().signal);
    const connection = probe.checks.find((c) => c.name === "connection");
    expect(connection).toMatchObject({ ok: false });
    expect(connection?.detail).toContain(join(home, ".postgresql", "root.crt"));
    expect(connection?.hint).toMatch(/tls\.ca/);
    await expect(adapter.backup(testRun())).rejects.toMatchObject({ code: "PERMANENT" });
  });

  test("tls.ca names the CA for both", async () => {
    const adapter = createPostgresAdapter(
      target({ tls: { enabled: true, rejectUnauthorized: true, ca: server.caFile } }),
      testRun().logger,
    );
    expect((await adapter.probe(new AbortController().signal)).ok).toBe(true);
    const stream = await adapter.backup(testRun());
    const [, stats] = await Promise.all([collect(stream.main.body), stream.done]);
    expect(stats.tables).toEqual({ "public.t": 3 });
  });
});

describe("postgres without TLS settings (libpq's sslmode prefer)", () => {
  let tlsOnly: ScratchPostgres;

  beforeAll(async () => {
    tlsOnly = await startScratchPostgres({ tlsOnly: true });
    await psql("postgres", "create database app", tlsOnly.port, tlsOnly.password);
    await psql("app", "create table t (id int)", tlsOnly.port, tlsOnly.password);
  });

  afterAll(async () => {
    await tlsOnly?.stop();
  });

  test("a server that takes TLS connections only passes the probe and backs up, as pg_dump connects to it", async () => {
    const adapter = createPostgresAdapter(scratchPgTarget("forced-tls", tlsOnly), testRun().logger);
    const probe = await adapter.probe(new AbortController().signal);
    expect(probe.checks.filter((c) => !c.ok)).toEqual([]);
    const stream = await adapter.backup(testRun());
    const [, stats] = await Promise.all([collect(stream.main.body), stream.done]);
    expect(stats.tables).toEqual({ "public.t": 0 });
  });
});

describe("postgres with a client certificate (sslcert, sslkey in the url)", () => {
  let certAuth: ScratchPostgres;

  beforeAll(async () => {
    certAuth = await startScratchPostgres({ clientCertificates: true });
    await psql("postgres", "create database app", certAuth.port, certAuth.password);
  });

  afterAll(async () => {
    await certAuth?.stop();
  });

  test("the probe and pg_dump both log in by the certificate", async () => {
    const query = new URLSearchParams({
      sslmode: "verify-full",
      sslrootcert: certAuth.caFile as string,
      sslcert: certAuth.clientCertFile as string,
      sslkey: certAuth.clientKeyFile as string,
    });
    const url = new Secret(`postgres://postgres@127.0.0.1:${certAuth.port}/app?${query.toString()}`);
    const overrides = { url, host: undefined, port: undefined, user: undefined, database: undefined };
    const adapter = createPostgresAdapter(
      scratchPgTarget("cert-db", certAuth, { ...overrides, password: undefined }),
      testRun().logger,
    );
    const probe = await adapter.probe(new AbortController().signal);
    expect(probe.checks.filter((c) => !c.ok)).toEqual([]);
    const stream = await adapter.backup(testRun());
    const [dump] = await Promise.all([collect(stream.main.body), stream.done]);
    expect(dump.subarray(0, 5).toString()).toBe("PGDMP");
  });
});
