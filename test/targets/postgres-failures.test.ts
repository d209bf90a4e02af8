/**
 * The postgres adapter when things go wrong, on a private cluster with scram-sha-256 passwords (the
 * shared server trusts 127.0.0.1, so a wrong password could not fail there): wrong password, missing
 * database, a dump killed or cut off half way, a cancelled run. And the password never shows up in
 * the process list, the dump's environment, an error or a log line.
 */
import { once } from "node:events";
import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import type { TargetConfigOf } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { createPostgresAdapter } from "../../src/targets/postgres/adapter";
import { libpqSession, resolvePgConnection } from "../../src/targets/postgres/connection";
import { classifyPgStderr } from "../../src/targets/postgres/errors";
import { spawnTool, toolError } from "../../src/targets/process";
import {
  childrenOf,
  collect,
  psql,
  scratchPgTarget,
  startScratchPostgres,
  testRun,
  waitForChild,
  type ScratchPostgres,
} from "../helpers/db";

/** Rows of the fixture table: about 50 MB of dump (see beforeAll). */
const EVENT_ROWS = 700_000;
let server: ScratchPostgres;

function target(overrides: Partial<TargetConfigOf<"postgres">> = {}): TargetConfigOf<"postgres"> {
  return scratchPgTarget("app-db", server, overrides);
}

beforeAll(async () => {
  server = await startScratchPostgres();
  await psql("postgres", "create database app", server.port, server.password);
  // About 50 MB of dump: far more than everything between the server and the test can hold (loopback
  // TCP buffers grow to several MB, pg_dump's 1 MiB stdio buffer under stdbuf, the pipe, the stream),
  // so a paused reader keeps the COPY running. At 7 MB the COPY could finish before the test acted.
  await psql(
    "app",
    `create table events as select g as id, md5(g::text) || md5((g + 1)::text) as body from generate_series(1, ${EVENT_ROWS}) g`,
    server.port,
    server.password,
  );
});

afterAll(async () => {
  await server?.stop();
});

/** Waits for the first chunk of a body and leaves the rest unread (backpressure holds the producer). */
async function firstChunk(body: Readable): Promise<Buffer> {
  for (;;) {
    const chunk = body.read() as Buffer | null;
    if (chunk) return chunk;
    await once(body, "readable");
  }
}

describe("postgres adapter failures", () => {
  test("a wrong password is CREDENTIALS, and the password is in no error, probe or log line", async () => {
    const wrong = "wrong-Secret-123";
    const adapter = createPostgresAdapter(target({ password: new Secret(wrong) }), testRun().logger);
    const run = testRun();
    const error: unknown = await adapter.backup(run).catch((e: unknown) => e);
    expect(isHavenError(error, "CREDENTIALS")).toBe(true);
    expect((error as Error).message).toMatch(/password authentication failed/);
    expect(isHavenError(error) && error.exitCode).toBe(12);

    const probe = await adapter.probe(new AbortController().signal);
    expect(probe.ok).toBe(false);
    expect(probe.checks.find((c) => c.name === "connection")?.hint).toMatch(/password/);

    for (const text of [String(error), JSON.stringify(error), JSON.stringify(probe), run.logText()]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(server.password);
    }
    expect((await childrenOf()).filter((c) => c.comm === "pg_dump")).toEqual([]);
  });

  test("pg_dump's own authentication failure is classified CREDENTIALS from its stderr", async () => {
    const conn = resolvePgConnection(target({ password: new Secret("not-the-password") }));
    const session = await libpqSession(conn);
    try {
      const tool = spawnTool({
        command: "pg_dump",
        args: ["--schema-only", "--no-password"],
        env: session.env,
      });
      tool.stdout?.resume();
      const exit = await tool.exit;
      const error = toolError("pg_dump", exit, classifyPgStderr);
      expect(error.code).toBe("CREDENTIALS");
      expect(error.message).toMatch(/pg_dump failed with exit code 1: .*password authentication failed/s);
    } finally {
      await session.remove();
    }
  });

  test("while pg_dump runs, its arguments and environment hold no password; the passfile is private and removed", async () => {
    const adapter = createPostgresAdapter(target(), testRun().logger);
    const run = testRun();
    const stream = await adapter.backup(run);
    const head = await firstChunk(stream.main.body);
    const dump = await waitForChild("pg_dump");
    expect(dump.cmdline).toMatch(/pg_dump --format=custom --compress=0 --snapshot=\S+ --no-password $/);
    expect(dump.cmdline).not.toContain(server.password);
    expect(dump.environ).not.toContain(server.password);
    expect(dump.environ).not.toMatch(/^PGPASSWORD=/m);
    const passfile = /^PGPASSFILE=(.*)$/m.exec(dump.environ)?.[1] as string;
    expect((await stat(passfile)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(passfile))).mode & 0o777).toBe(0o700);

    const [rest, stats] = await Promise.all([collect(stream.main.body), stream.done]);
    expect(head.subarray(0, 5).toString()).toBe("PGDMP");
    expect(head.length + rest.length).toBeGreaterThan(5_000_000);
    expect(stats.tables).toEqual({ "public.events": EVENT_ROWS });
    await expect(stat(dirname(passfile))).rejects.toMatchObject({ code: "ENOENT" });
    expect(run.logText()).not.toContain(server.password);
  });

  test("a pg_dump killed half way rejects done and fails the stream", async () => {
    const adapter = createPostgresAdapter(target(), testRun().logger);
    const stream = await adapter.backup(testRun());
    await firstChunk(stream.main.body);
    const dump = await waitForChild("pg_dump");
    process.kill(dump.pid, "SIGKILL");
    const [bodyError, doneError] = await Promise.all([
      collect(stream.main.body).then(
        () => null,
        (e: unknown) => e,
      ),
      stream.done.then(
        () => null,
        (e: unknown) => e,
      ),
    ]);
    expect(doneError).toBeInstanceOf(Error);
    expect(isHavenError(doneError, "SOURCE_FAILED")).toBe(true);
    expect((doneError as Error).message).toMatch(/pg_dump was killed by SIGKILL/);
    expect(bodyError).toBe(doneError);
  });

  test("a connection lost half way is SOURCE_FAILED with pg_dump's stderr", async () => {
    const adapter = createPostgresAdapter(target(), testRun().logger);
    const stream = await adapter.backup(testRun());
    await firstChunk(stream.main.body);
    await waitForChild("pg_dump");
    await psql(
      "postgres",
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'haven' and query ilike 'COPY%'",
      server.port,
      server.password,
    );
    stream.main.body.resume();
    const error: unknown = await stream.done.catch((e: unknown) => e);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/pg_dump failed with exit code 1: .*terminat/s);
    expect((error as Error).message).not.toContain(server.password);
  });

  test("aborting the run kills pg_dump and rejects done with CANCELLED", async () => {
    const controller = new AbortController();
    const adapter = createPostgresAdapter(target(), testRun().logger);
    const stream = await adapter.backup(testRun(controller.signal));
    await firstChunk(stream.main.body);
    await waitForChild("pg_dump");
    controller.abort();
    const error: unknown = await stream.done.catch((e: unknown) => e);
    expect(isHavenError(error, "CANCELLED")).toBe(true);
    expect((await childrenOf()).filter((c) => c.comm === "pg_dump")).toEqual([]);
  });

  test("a missing database is SOURCE_FAILED naming it, with a hint", async () => {
    const adapter = createPostgresAdapter(target({ database: "nope" }), testRun().logger);
    const error: unknown = await adapter.backup(testRun()).catch((e: unknown) => e);
    expect(isHavenError(error, "SOURCE_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(/database "nope" does not exist/);
    expect(isHavenError(error) && error.hint).toMatch(/database name/);
    expect(String(error)).not.toContain(server.password);
  });
});
