/** Pure logic of the postgres adapter: patterns, versions, connection resolution, error classes. */
import type { TargetConfigOf } from "../../src/config/types";
import { isHavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { passfileLine, resolvePgConnection } from "../../src/targets/postgres/connection";
import { globalsCheck } from "../../src/targets/postgres/probe";
import { classifyPgStderr } from "../../src/targets/postgres/errors";
import { patternToRegex, scopeArgs, scopeCondition } from "../../src/targets/postgres/scope";
import { assertToolNotOlder, majorOf, parseToolVersion } from "../../src/targets/postgres/versions";

type Conn = Parameters<typeof resolvePgConnection>[0];

describe("pg_dump patterns", () => {
  const matches = (pattern: string, text: string, part: "schema" | "name" = "name") =>
    new RegExp(patternToRegex(pattern)[part] as string).test(text);

  test("wildcards, case folding, quoting and schema separation follow pg_dump", () => {
    expect(patternToRegex("sales.orders")).toEqual({ schema: "^(sales)$", name: "^(orders)$" });
    expect(matches("Orders*", "orders_2024")).toBe(true);
    expect(matches("Orders*", "Orders_2024")).toBe(false);
    expect(matches('"Orders"', "Orders")).toBe(true);
    expect(matches('"Orders"', "orders")).toBe(false);
    expect(matches("t?", "t1")).toBe(true);
    expect(matches("t?", "t12")).toBe(false);
    expect(matches("t[0-9]", "t7")).toBe(true);
    expect(matches("price$", "price$")).toBe(true);
    expect(patternToRegex('"a.b"."x""y"')).toEqual({ schema: "^(a\\.b)$", name: '^(x"y)$' });
    expect(matches('"a*"', "a*")).toBe(true);
    expect(matches('"a*"', "ab")).toBe(false);
  });

  test("too many dots is a config error", () => {
    expect(() => patternToRegex("db.sales.orders")).toThrow(/too many dots/);
  });

  test("tables win over schemas; excludeTables always applies; arguments mirror the options", () => {
    const withTables = scopeCondition({
      schemas: ["a"],
      excludeSchemas: ["b"],
      tables: ["t"],
      excludeTables: ["u"],
    });
    expect(withTables.sql).not.toContain("n.nspname ~ $1");
    expect(withTables.params).toEqual(["^(t)$", "^(u)$"]);
    const withSchemas = scopeCondition({ schemas: ["a"], excludeSchemas: ["b"] });
    expect(withSchemas.params).toEqual(["^(a)$", "^(b)$"]);
    expect(
      scopeArgs({ schemas: ["a"], excludeSchemas: ["b"], tables: ["c.t"], excludeTables: ["u"] }),
    ).toEqual(["--schema=a", "--exclude-schema=b", "--table=c.t", "--exclude-table=u"]);
  });
});

describe("versions", () => {
  test("parses pg_dump --version output of old and new majors", () => {
    expect(parseToolVersion("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)")).toBe(150020);
    expect(parseToolVersion("pg_dump (PostgreSQL) 9.6.24")).toBe(90624);
    expect(parseToolVersion("pg_dump (PostgreSQL) 17devel")).toBe(170000);
    expect(parseToolVersion("nothing here")).toBeNull();
    expect(majorOf(150020)).toBe("15");
    expect(majorOf(90624)).toBe("9.6");
  });

  test("refuses a pg_dump older than the server, with the package to install", () => {
    expect(() => assertToolNotOlder("pg_dump", 150020, 150001)).not.toThrow();
    expect(() => assertToolNotOlder("pg_dump", 160000, 150020)).not.toThrow();
    let error: unknown;
    try {
      assertToolNotOlder("pg_dump", 140011, 160002);
    } catch (e) {
      error = e;
    }
    expect(isHavenError(error, "PERMANENT")).toBe(true);
    expect((error as Error).message).toBe(
      "pg_dump 14 is older than the PostgreSQL 16 server; it cannot make a correct dump",
    );
    expect(isHavenError(error) && error.hint).toMatch(/postgresql-client-16/);
  });
});

describe("connection", () => {
  const base: Conn = { name: "db", url: undefined, tls: undefined };

  test("url parts, with fields taking precedence; defaults; the url's password", () => {
    const conn = resolvePgConnection({
      ...base,
      url: new Secret(
        "postgresql://app%40corp:p%3Ass@db1.example:6432/orders?sslmode=verify-ca&sslrootcert=/ca.pem",
      ),
      port: 5433,
    });
    expect(conn).toMatchObject({
      host: "db1.example",
      port: 5433,
      user: "app@corp",
      database: "orders",
      sslMode: "verify-ca",
      sslRootCert: "/ca.pem",
    });
    expect(conn.password?.reveal()).toBe("p:ss");
    expect(resolvePgConnection({ ...base, database: "x" })).toMatchObject({
      host: "localhost",
      port: 5432,
      user: "postgres",
      sslMode: "prefer",
    });
  });

  test("tls settings map to libpq ssl modes", () => {
    const tls = (t: NonNullable<TargetConfigOf<"postgres">["tls"]>) =>
      resolvePgConnection({ ...base, database: "x", tls: t }).sslMode;
    expect(tls({ enabled: false, rejectUnauthorized: true })).toBe("disable");
    expect(tls({ enabled: true, rejectUnauthorized: true })).toBe("verify-full");
    expect(tls({ enabled: true, rejectUnauthorized: false })).toBe("require");
  });

  test("a missing database or a bad url is a config error that never echoes the url", () => {
    expect(() => resolvePgConnection(base)).toThrow(/no database/);
    let error: unknown;
    try {
      resolvePgConnection({ ...base, url: new Secret("not a url with s3cret") });
    } catch (e) {
      error = e;
    }
    expect(isHavenError(error, "CONFIG")).toBe(true);
    expect(String((error as Error).message)).not.toContain("s3cret");
  });

  test("libpq's ?host=&port= for a socket folder; a parameter Haven would drop is a config error", () => {
    expect(
      resolvePgConnection({ ...base, url: new Secret("postgres:///app?host=/run/postgresql&port=5433") }),
    ).toMatchObject({ host: "/run/postgresql", port: 5433, database: "app" });
    expect(() => resolvePgConnection({ ...base, url: new Secret("postgres:///app?port=http") })).toThrow(
      /url parameter port is not a port number: http/,
    );
    let error: unknown;
    try {
      resolvePgConnection({
        ...base,
        url: new Secret("postgres://u:s3cret@h/app?target_session_attrs=read-write"),
      });
    } catch (e) {
      error = e;
    }
    expect(isHavenError(error, "CONFIG")).toBe(true);
    expect(String((error as Error).message)).toMatch(/url parameter target_session_attrs would be ignored/);
    expect(String((error as Error).message)).not.toContain("s3cret");
  });

  test("password file lines escape colons and backslashes", () => {
    expect(passfileLine(new Secret("a:b\\c"))).toBe("*:*:*:*:a\\:b\\\\c\n");
    expect(() => passfileLine(new Secret("two\nlines"))).toThrow(/line break/);
  });
});

describe("stderr classification", () => {
  test.each([
    ['FATAL:  password authentication failed for user "x"', "CREDENTIALS"],
    ['FATAL:  role "x" is not permitted to log in', "CREDENTIALS"],
    ['FATAL:  no pg_hba.conf entry for host "1.2.3.4"', "CREDENTIALS"],
    ['FATAL:  database "x" does not exist', "SOURCE_FAILED"],
    ["pg_dump: error: aborting because of server version mismatch", "PERMANENT"],
    ["ERROR:  permission denied for table t", "SOURCE_FAILED"],
    ['could not translate host name "nowhere" to address', "SOURCE_FAILED"],
  ])("%s → %s", (stderr, code) => {
    expect(classifyPgStderr(stderr)?.code).toBe(code);
  });
});

describe("globals probe", () => {
  test("pg_dumpall older than the server fails the check with the client to install, as the backup would", async () => {
    const signal = AbortSignal.timeout(30_000);
    const newer = await globalsCheck({ superuser: true, versionNum: 990000 }, signal);
    expect(newer).toMatchObject({
      name: "globals",
      ok: false,
      detail: expect.stringMatching(/^pg_dumpall \S+ is older than the PostgreSQL 99 server/),
      hint: expect.stringContaining("postgresql-client-99"),
    });
    const older = await globalsCheck({ superuser: false, versionNum: 90624 }, signal);
    expect(older).toMatchObject({
      name: "globals",
      ok: true,
      detail: expect.stringContaining("not a superuser"),
    });
  });
});
