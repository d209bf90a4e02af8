import { canonicalJson } from "../../src/audit/canonical-json";
import { collectSecrets, isSecretKey, redactDetail } from "../../src/audit/redact";
import { Secret } from "../../src/lib/secret";
import { fsAudit, readAllFiles } from "./helpers";

describe("canonicalJson", () => {
  test("sorts keys at every depth, drops undefined members, writes no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, "x", null, undefined], c: true }, e: undefined })).toBe(
      '{"a":{"c":true,"d":[1,"x",null,null]},"b":1}',
    );
    expect(canonicalJson({ z: 1, a: 2 })).toBe(canonicalJson({ a: 2, z: 1 }));
  });

  test("refuses what JSON cannot hold", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(TypeError);
  });
});

describe("redactDetail", () => {
  test("replaces Secrets and secret-named members, keeps the rest", () => {
    const detail = redactDetail({
      target: "orders-db",
      password: "hunter2-pw",
      nested: { apiKey: "k-123456", Authorization: "Bearer abc", accessToken: "tok", count: 3 },
      list: [new Secret("s3cr3t-value"), "plain"],
      identity: "AGE-SECRET-KEY-1QQQQ",
      bypass: true,
      sessionToken: undefined,
    });
    expect(detail).toEqual({
      target: "orders-db",
      password: "[redacted]",
      nested: { apiKey: "[redacted]", Authorization: "[redacted]", accessToken: "[redacted]", count: 3 },
      list: ["[redacted]", "plain"],
      identity: "[redacted]",
      bypass: true,
    });
    expect(["tokenSha256", "secretAccessKey", "passwordFile", "pwd"].every(isSecretKey)).toBe(true);
    expect(["target", "snapshot", "bypass", "passage"].some(isSecretKey)).toBe(false);
  });

  test("scrubs URL passwords, age keys and named secrets inside strings", () => {
    const detail = redactDetail(
      {
        url: "postgres://backup:pg-Pa55@db1:5432/orders",
        note: "key AGE-SECRET-KEY-1ABCDEF0123 leaked; also the value smtp-pass-99 appeared",
        error: new Error("login failed for smtp-pass-99"),
      },
      { secrets: [new Secret("smtp-pass-99")] },
    );
    expect(detail).toEqual({
      url: "postgres://backup:[redacted]@db1:5432/orders",
      note: "key [redacted] leaked; also the value [redacted] appeared",
      error: "login failed for [redacted]",
    });
  });

  test("a configured secret URL is scrubbed whole; a password holding @ and a lowercase age key too", () => {
    const hook = "https://bot:pw@hooks.example/notify?token=SUPERSECRETTOKEN";
    const detail = redactDetail(
      {
        error: `POST ${hook} failed`,
        redis: "connect redis://:p@ss@cache:6379 refused",
        key: "age-secret-key-1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq was pasted",
      },
      { secrets: [new Secret(hook)] },
    );
    expect(detail).toEqual({
      error: "POST [redacted] failed",
      redis: "connect redis://:[redacted]@cache:6379 refused",
      key: "[redacted] was pasted",
    });
    expect(JSON.stringify(detail)).not.toMatch(/SUPERSECRETTOKEN|ss@|qqqq/);
  });

  test("the password of a configured connection URL is scrubbed where it appears alone, decoded", () => {
    const url = new Secret("postgres://backup:p%40ss%2Fw0rd-42@db1:5432/orders");
    const detail = redactDetail(
      { error: "pg_restore: authentication with p@ss/w0rd-42 failed; retried as backup:p@ss/w0rd-42@db1" },
      { secrets: [url] },
    );
    expect(JSON.stringify(detail)).not.toMatch(/w0rd/);
  });

  test("bounds what it keeps: long strings, long arrays, deep nesting, cycles, odd values", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 12; i++) deep = { deeper: deep };
    const detail = redactDetail({
      long: "x".repeat(2500),
      many: Array.from({ length: 150 }, (_, i) => i),
      cyclic,
      deep,
      when: new Date("2026-11-22T02:00:00Z"),
      bytes: Buffer.from("abc"),
      big: 10n,
      fn: () => 1,
    });
    expect(detail.long).toBe(`${"x".repeat(2000)}…[500 more characters]`);
    expect((detail.many as unknown[]).length).toBe(101);
    expect((detail.many as unknown[])[100]).toBe("[50 more]");
    expect(detail.cyclic).toEqual({ name: "loop", self: "[circular]" });
    expect(JSON.stringify(detail.deep)).toContain('"[too deep]"');
    expect(detail.when).toBe("2026-11-22T02:00:00.000Z");
    expect(detail.bytes).toBe("[3 bytes]");
    expect(detail.big).toBe("10");
    expect("fn" in detail).toBe(false);
  });
});

test("secrets handed to append in detail never reach the stored bytes", async () => {
  const env = await fsAudit({ secrets: [new Secret("config-redis-pw-77")] });
  try {
    const clear = [
      "hunter2-pw",
      "tok-abcdef123",
      "s3cr3t-value",
      "pg-Pa55w0rd",
      "AGE-SECRET-KEY-1XYZXYZXYZ",
      "config-redis-pw-77",
      "hvn_bearer_token_value",
    ];
    await env.log.append({
      action: "restore",
      outcome: "failed",
      target: "orders-db",
      detail: {
        password: "hunter2-pw",
        options: { token: "tok-abcdef123", secret: new Secret("s3cr3t-value") },
        url: "postgres://backup:pg-Pa55w0rd@db1/orders",
        identityFile: "/run/secrets/age.txt",
        stderr: "age: AGE-SECRET-KEY-1XYZXYZXYZ is not valid",
        error: new Error("redis refused config-redis-pw-77"),
        headers: { authorization: "Bearer hvn_bearer_token_value" },
      },
    });
    await env.log.append({ action: "backup", outcome: "ok", detail: { password: new Secret("hunter2-pw") } });

    const files = await readAllFiles(env.dir);
    expect(files.length).toBeGreaterThanOrEqual(3); // two records and the head pointer
    for (const { path, bytes } of files) {
      for (const value of clear) {
        if (bytes.includes(value)) throw new Error(`${path} holds the secret ${value}`);
      }
    }
    const [record] = await env.log.list();
    expect(record?.detail).toMatchObject({
      password: "[redacted]",
      url: "postgres://backup:[redacted]@db1/orders",
      identityFile: "/run/secrets/age.txt",
    });
    expect((await env.log.verify()).ok).toBe(true);
  } finally {
    await env.cleanup();
  }
});

test("collectSecrets finds every Secret in a config-like value, each once", () => {
  const redis = new Secret("redis://:pw@r:6379");
  const s3 = new Secret("s3-key");
  const config = {
    redis,
    destinations: { primary: { secretAccessKey: s3, bucket: "b" } },
    list: [redis],
    n: 1,
  };
  expect(collectSecrets(config)).toEqual([redis, s3]);
});
