import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describeConfig, formatConfig } from "../../src/config/describe";
import { ConfigError, loadConfig, parseConfigText, resolveConfigPath } from "../../src/config/load";
import { Secret, scrubKnownSecrets } from "../../src/lib/secret";

const minimalFixture = join(__dirname, "../fixtures/config/minimal.yaml");
const base = [
  "destinations:",
  "  d: { type: filesystem, path: /backups }",
  "defaults: { destinations: [d] }",
];

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-config-load-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function parse(lines: string[], env: NodeJS.ProcessEnv = {}) {
  return parseConfigText(lines.join("\n"), join(dir, "haven.yaml"), env);
}

function messagesOf(lines: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parse(lines, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split("\n");
    throw error;
  }
  throw new Error("expected the config to be rejected");
}

describe("loadConfig", () => {
  it("fills every target from defaults and names targets and destinations", async () => {
    const config = await loadConfig(minimalFixture, {});
    const bytes = await readFile(minimalFixture);

    expect(config.source).toBe(minimalFixture);
    expect(config.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(config.destinations.local).toEqual({
      name: "local",
      type: "filesystem",
      path: "/var/backups/haven",
      prefix: "",
    });
    expect(config.targets.notes).toEqual({
      name: "notes",
      type: "sqlite",
      path: "/var/lib/notes/notes.db",
      schedule: { daily: "0 2 * * *" },
      protected: false,
      destinations: ["local"],
      retention: { daily: 7, weekly: 4, monthly: 12 },
      rpo: 26 * 3_600_000,
      rto: 4 * 3_600_000,
      compression: { algorithm: "zstd", level: 3 },
      verify: { schedule: "0 6 * * 6", kind: "restore", sample: 100, checks: [] },
    });
    expect(config.redis).toBeInstanceOf(Secret);
    expect(config.redis.reveal()).toBe("redis://127.0.0.1:6379");
  });

  it("lets a target replace retention and rpo, and override compression and verify key by key", () => {
    const config = parse([
      "destinations:",
      "  d: { type: filesystem, path: /backups }",
      "defaults:",
      "  destinations: [d]",
      "  compression: { algorithm: gzip, level: 6 }",
      '  verify: { schedule: "0 5 * * 0", kind: integrity }',
      "targets:",
      "  a:",
      "    type: files",
      "    path: /srv",
      "    retention: { last: 3 }",
      "    rpo: 90m",
      "    compression: { level: 9 }",
      "    verify: { sample: 10 }",
    ]);
    expect(config.targets.a).toMatchObject({
      retention: { last: 3 },
      rpo: 90 * 60_000,
      rto: 4 * 3_600_000,
      compression: { algorithm: "gzip", level: 9 },
      verify: { schedule: "0 5 * * 0", kind: "integrity", sample: 10, checks: [] },
    });
    expect(config.defaults.compression).toEqual({ algorithm: "gzip", level: 6 });
  });

  it("defaults forcePathStyle to true for an S3 destination with an endpoint, and leaves AWS alone", () => {
    const config = parse([
      "destinations:",
      "  minio: { type: s3, bucket: backups, endpoint: 'http://127.0.0.1:9000' }",
      "  aws: { type: s3, bucket: backups }",
      "  pinned: { type: s3, bucket: pinned, endpoint: 'http://127.0.0.1:9000', forcePathStyle: false }",
      "defaults: { destinations: [minio] }",
      "targets: {}",
    ]);
    expect(config.destinations.minio).toMatchObject({ name: "minio", forcePathStyle: true });
    expect(config.destinations.aws).not.toHaveProperty("forcePathStyle");
    expect(config.destinations.pinned).toMatchObject({ forcePathStyle: false });
  });

  it("loads a connection URL whose password holds a bare %, and keeps that password secret", () => {
    const config = parse([...base, "redis: 'redis://:50%off-sale@127.0.0.1:6379'", "targets: {}"]);
    expect(inspect(config.redis)).not.toContain("50%off-sale");
    expect(scrubKnownSecrets("auth failed for 50%off-sale")).toBe("auth failed for [redacted]");
  });
});

describe("${VAR} in the YAML", () => {
  it("types an unquoted value as the key expects: numbers and booleans where wanted, text elsewhere", () => {
    const config = parse(
      [
        ...base,
        "targets:",
        "  db:",
        "    type: postgres",
        "    host: ${PG_HOST:-db1}",
        "    port: ${PG_PORT}",
        "    database: ${PG_DB:-000123}",
        "    user: '${PG_USER:-42}'",
        "    password: ${PG_PASSWORD}",
        "    globals: ${PG_GLOBALS:-true}",
        "    hooks: { before: 'echo $${HOME} ${PG_HOST:-x}' }",
      ],
      { PG_PORT: "6543", PG_HOST: "", PG_PASSWORD: "12345" },
    );
    expect(config.targets.db).toMatchObject({
      host: "db1",
      port: 6543,
      database: "000123",
      user: "42",
      globals: true,
      hooks: { before: "echo ${HOME} x" },
    });
    const db = config.targets.db;
    expect(db?.type === "postgres" && db.password?.reveal()).toBe("12345");
  });

  it("leaves a substituted value that is not of the expected type for the schema to report", () => {
    expect(
      messagesOf([...base, "targets:", "  db:", "    type: postgres", "    port: ${PG_PORT}"], {
        PG_PORT: "x1",
      }),
    ).toEqual([`${join(dir, "haven.yaml")}:7:11: targets.db.port: expected number, received string`]);
  });

  it("leaves out an unquoted value that comes out empty, so an optional key can come from the environment", () => {
    const lines = [
      "destinations:",
      "  s3: { type: s3, bucket: backups }",
      "  s3e:",
      "    type: s3",
      "    bucket: backups-e",
      "    endpoint: ${S3_ENDPOINT:-}",
      "    accessKeyId: ${AWS_ACCESS_KEY_ID:-}",
      "    prefix: '${PREFIX:-}'",
      "defaults: { destinations: [s3] }",
      "targets: {}",
    ];
    expect(parse(lines).destinations.s3e).not.toHaveProperty("endpoint");
    expect(parse(lines).destinations.s3e).not.toHaveProperty("accessKeyId");
    expect(parse(lines).destinations.s3e).toMatchObject({ prefix: "" });
    expect(parse(lines, { S3_ENDPOINT: "http://127.0.0.1:9000" }).destinations.s3e).toMatchObject({
      endpoint: "http://127.0.0.1:9000",
      forcePathStyle: true,
    });
  });

  it("reports a variable set but empty at its line and column, instead of leaving the key out", () => {
    expect(
      messagesOf([...base, "targets:", "  db:", "    type: postgres", "    password: ${PG_PASSWORD}"], {
        PG_PASSWORD: "",
      }),
    ).toEqual([
      `${join(dir, "haven.yaml")}:7:15: targets.db.password: environment variable PG_PASSWORD is set but empty: give it a value, or a default with \${PG_PASSWORD:-value} (\${PG_PASSWORD:-} where empty is meant)`,
    ]);
  });

  it("reports an unset variable at its own column, once even when its value is anchored and reused", () => {
    expect(
      messagesOf(
        [
          ...base,
          "targets:",
          "  a: { type: files, path: &p '/srv/${A}/${B:-b}/${C}' }",
          "  b: { type: files, path: *p }",
        ],
        { A: "a" },
      ),
    ).toEqual([
      `${join(dir, "haven.yaml")}:5:49: targets.a.path: environment variable C is not set: set it, or give a default with \${C:-value}`,
    ]);
    const config = parse([
      "timezone: &tz ${TZ_NAME:-UTC}",
      ...base,
      "targets:",
      "  a: { type: files, path: /srv }",
    ]);
    expect(config.timezone).toBe("UTC");
  });

  it("does not substitute in keys", () => {
    expect(messagesOf([...base, "targets: {}", "${KEY}: 1"], { KEY: "timezone" })).toEqual([
      `${join(dir, "haven.yaml")}:5:1: ["\${KEY}"]: unknown key`,
    ]);
  });
});

describe("<key>File secrets", () => {
  it("reads the file relative to the config's directory, without its trailing newline, into a Secret", async () => {
    await mkdir(join(dir, "secrets"), { recursive: true });
    await writeFile(join(dir, "secrets", "pg"), "s3cret pass\n");
    await writeFile(join(dir, "redis-url"), "redis://:r3dis@10.0.0.5:6379\r\n");
    const config = parse([
      "redisFile: redis-url",
      ...base,
      "targets:",
      "  db: { type: postgres, host: db1, passwordFile: secrets/pg }",
    ]);
    const db = config.targets.db;
    if (db?.type !== "postgres") throw new Error("expected a postgres target");
    expect(db.password).toBeInstanceOf(Secret);
    expect(db.password?.reveal()).toBe("s3cret pass");
    expect(db.passwordFile).toBe("secrets/pg");
    expect(config.redis.reveal()).toBe("redis://:r3dis@10.0.0.5:6379");
  });

  it("reads the file once for a mapping reused through an alias or a merge key", async () => {
    await writeFile(join(dir, "shared"), "shared-secret\n");
    const config = parse([
      ...base,
      "targets:",
      "  a: &pg { type: postgres, host: h, passwordFile: shared }",
      "  b: *pg",
      "  c: { <<: *pg, database: other }",
    ]);
    for (const name of ["a", "b", "c"]) {
      const target = config.targets[name];
      expect([name, target?.type === "postgres" && target.password?.reveal()]).toEqual([
        name,
        "shared-secret",
      ]);
    }
  });

  it("reads absolute paths and paths built from ${VAR}", async () => {
    await writeFile(join(dir, "s3-secret"), "AbCdEf123\n");
    const config = parse(
      [
        "destinations:",
        "  s3:",
        "    type: s3",
        "    bucket: backups",
        "    secretAccessKeyFile: ${SECRETS}/s3-secret",
        "defaults: { destinations: [s3] }",
        "targets: {}",
      ],
      { SECRETS: dir },
    );
    const s3 = config.destinations.s3;
    expect(s3?.type === "s3" && s3.secretAccessKey?.reveal()).toBe("AbCdEf123");
  });

  it("reports both forms given, a missing file, an empty file and an unreadable file, at the File key", async () => {
    await writeFile(join(dir, "empty"), "\n");
    await writeFile(join(dir, "locked"), "x");
    await chmod(join(dir, "locked"), 0o000);
    const runningAsRoot = process.getuid?.() === 0;
    const file = join(dir, "haven.yaml");
    const messages = messagesOf([
      ...base,
      "targets:",
      "  a: { type: postgres, password: inline, passwordFile: empty }",
      "  b: { type: mysql, passwordFile: nope/missing }",
      "  c: { type: redis, passwordFile: empty }",
      "  d: { type: redis, passwordFile: locked }",
    ]);
    expect(messages.slice(0, 3)).toEqual([
      `${file}:5:42: targets.a.passwordFile: set either password or passwordFile, not both`,
      `${file}:6:35: targets.b.passwordFile: cannot use secret file ${join(dir, "nope/missing")}: no such file`,
      `${file}:7:35: targets.c.passwordFile: cannot use secret file ${join(dir, "empty")}: the file is empty`,
    ]);
    // root reads any file, so the permission case only shows for an ordinary user.
    expect(messages.slice(3)).toEqual(
      runningAsRoot
        ? []
        : [
            `${file}:8:35: targets.d.passwordFile: cannot use secret file ${join(dir, "locked")}: permission denied (is it readable by the user haven runs as?)`,
          ],
    );
  });

  it("refuses a FIFO or a directory as a secret file at once, instead of waiting for a writer", async () => {
    execFileSync("mkfifo", [join(dir, "pipe")]);
    await mkdir(join(dir, "folder"), { recursive: true });
    const file = join(dir, "haven.yaml");
    expect(
      messagesOf([
        ...base,
        "targets:",
        "  a: { type: redis, passwordFile: pipe }",
        "  b: { type: redis, passwordFile: folder }",
      ]),
    ).toEqual([
      `${file}:5:35: targets.a.passwordFile: cannot use secret file ${join(dir, "pipe")}: not a regular file (a FIFO, a socket or a device)`,
      `${file}:6:35: targets.b.passwordFile: cannot use secret file ${join(dir, "folder")}: is a directory`,
    ]);
  });

  it("treats a ...File key that has no secret twin in the schema as a plain path", () => {
    const config = parse([
      ...base,
      "targets: {}",
      "encryption: { recipients: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq], identityFile: /nowhere/id.txt }",
    ]);
    expect(config.encryption?.identityFile).toBe("/nowhere/id.txt");
    // A relative one is read from the config's folder, as *File secrets are, wherever Haven starts.
    const relative = parse([
      ...base,
      "targets: {}",
      "encryption: { recipients: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq], identityFile: keys/id.txt }",
    ]);
    expect(relative.encryption?.identityFile).toBe(join(dir, "keys", "id.txt"));
    expect(messagesOf([...base, "targets: {}", "alerts: { webhooks: [ { urlFile: /x } ] }"])).toEqual([
      `${join(dir, "haven.yaml")}:5:23: alerts.webhooks[0].url: required key is missing`,
      `${join(dir, "haven.yaml")}:5:25: alerts.webhooks[0].urlFile: unknown key: url has no File form here; give it through an environment variable, \${NAME}`,
    ]);
  });
});

describe("secrets in a loaded config", () => {
  it("never appear in JSON.stringify, util.inspect, String() or the printable view", async () => {
    const fromFile = `file-${randomBytes(8).toString("hex")}`;
    const fromEnv = `env-${randomBytes(8).toString("hex")}`;
    const inline = `inline-${randomBytes(8).toString("hex")}`;
    await writeFile(join(dir, "smtp"), `${fromFile}\n`);
    const config = parse(
      [
        `redis: redis://:${inline}@127.0.0.1:6379`,
        ...base,
        "targets:",
        "  db: { type: postgres, url: '${PG_URL}' }",
        "alerts:",
        "  email:",
        "    smtp: { host: smtp.example.com, passwordFile: smtp }",
        "    from: haven@example.com",
        "    to: [ops@example.com]",
        "  webhooks: [ { url: 'https://hooks.example.com/${HOOK_TOKEN}' } ]",
      ],
      { PG_URL: `postgres://u:${fromEnv}@db1/orders`, HOOK_TOKEN: fromEnv },
    );

    const renderings = [
      JSON.stringify(config),
      inspect(config, { depth: Infinity, showHidden: true }),
      String(config.alerts?.email?.smtp.password),
      String(config.redis),
      inspect(config.redis),
      JSON.stringify(describeConfig(config)),
      formatConfig(config),
    ];
    for (const text of renderings) {
      for (const secret of [fromFile, fromEnv, inline]) expect(text).not.toContain(secret);
    }
    expect(describeConfig(config)).toMatchObject({
      redis: "[redacted]",
      targets: { db: { url: "[redacted]", rpo: "1d 2h" } },
      alerts: { email: { smtp: { password: "[redacted]", passwordFile: "smtp" } }, repeat: "4h" },
    });
    expect(config.alerts?.email?.smtp.password?.reveal()).toBe(fromFile);
  });
});

describe("resolveConfigPath", () => {
  it("prefers -c FILE, then $HAVEN_CONFIG, then ./haven.yaml", () => {
    expect(resolveConfigPath("/etc/haven/a.yaml", { HAVEN_CONFIG: "/etc/haven/b.yaml" })).toBe(
      "/etc/haven/a.yaml",
    );
    expect(resolveConfigPath(undefined, { HAVEN_CONFIG: "/etc/haven/b.yaml" })).toBe("/etc/haven/b.yaml");
    expect(resolveConfigPath(undefined, {})).toBe("./haven.yaml");
    expect(resolveConfigPath("", { HAVEN_CONFIG: "" })).toBe("./haven.yaml");
  });
});
