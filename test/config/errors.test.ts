import { join } from "node:path";
import { ConfigError, loadConfig, parseConfigText } from "../../src/config/load";
import { ExitCode, isHavenError } from "../../src/lib/errors";

const invalidFixture = join(__dirname, "../fixtures/config/invalid.yaml");

async function configErrorOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return error;
}

function errorOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfigText(text, "haven.yaml", env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected the config to be rejected");
}

describe("a config with several problems", () => {
  it("reports every problem at once, each at its file, line and column, sorted by line", async () => {
    const error = await configErrorOf(loadConfig(invalidFixture, {}));

    expect(error.message.split("\n")).toEqual([
      `${invalidFixture}:7:5: destinations.primary.regoin: unknown key (did you mean "region"?)`,
      `${invalidFixture}:8:3: destinations.nas.path: required key is missing`,
      `${invalidFixture}:11:27: defaults.destinations[1]: unknown destination "offsite" (destinations: primary, nas)`,
      `${invalidFixture}:12:8: defaults.rpo: not a duration: use e.g. 90s, 15m, 26h, 7d`,
      `${invalidFixture}:16:28: targets.orders-db.url: environment variable DB_HOST is not set: set it, or give a default with \${DB_HOST:-value}`,
      `${invalidFixture}:17:11: targets.orders-db.port: expected number, received string`,
      `${invalidFixture}:20:15: targets.orders-db.schedule.weekly: not a valid cron expression (5 or 6 fields, e.g. "0 2 * * *")`,
      `${invalidFixture}:23:9: targets.orders-db.destinations[1]: unknown destination "tape" (destinations: primary, nas)`,
      `${invalidFixture}:27:5: targets.shared-files.path: duplicate key (first set on line 26)`,
    ]);
  });

  it("is a HavenError with code CONFIG, exit code 2, a hint, and the problems as data", async () => {
    const error = await configErrorOf(loadConfig(invalidFixture, {}));

    expect(isHavenError(error, "CONFIG")).toBe(true);
    expect(error.exitCode).toBe(ExitCode.USAGE);
    expect(error.hint).toMatch(/fix these 9 problems/);
    expect(error.issues[0]).toEqual({
      file: invalidFixture,
      line: 7,
      col: 5,
      path: ["destinations", "primary", "regoin"],
      message: 'unknown key (did you mean "region"?)',
    });
  });

  it("says when the file cannot be read, and how to name another one", async () => {
    const missing = join(__dirname, "../fixtures/config/does-not-exist.yaml");
    const error = await loadConfig(missing, {}).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(isHavenError(error, "CONFIG")).toBe(true);
    expect((error as Error).message).toBe(`cannot read config file ${missing}: no such file`);
    expect((error as { hint?: string }).hint).toMatch(/-c FILE or set HAVEN_CONFIG/);
  });

  it("says so in words when -c names a folder", async () => {
    const folder = join(__dirname, "../fixtures/config");
    await expect(loadConfig(folder, {})).rejects.toMatchObject({
      code: "CONFIG",
      message: `cannot read config file ${folder}: it is a folder, not a file`,
    });
  });
});

describe("problem positions", () => {
  it("points at the key of an unknown top-level key and of a bad target name", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "targets:",
        "  Orders: { type: sqlite, path: /o.db }",
        "bogus: 1",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      "haven.yaml:4:3: targets.Orders: target names: lowercase letters, digits, . _ -",
      "haven.yaml:5:1: bogus: unknown key",
    ]);
  });

  it("names the choices of an unknown target type, and a missing type at the target's key", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "targets:",
        "  mongo:",
        "    type: mongodb",
        "  untyped:",
        "    path: /x",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      "haven.yaml:5:11: targets.mongo.type: not an allowed value: expected one of files, postgres, mysql, redis, sqlite",
      "haven.yaml:6:3: targets.untyped.type: required key is missing (one of: files, postgres, mysql, redis, sqlite)",
    ]);
  });

  it("follows merge keys and aliases to the anchored mapping", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "targets:",
        "  a: &pg",
        "    type: postgres",
        "    port: high",
        "  b:",
        "    <<: *pg",
        "    database: other",
        "    databse: typo",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      "haven.yaml:6:11: targets.a.port: expected number, received string",
      "haven.yaml:6:11: targets.b.port: expected number, received string",
      'haven.yaml:10:5: targets.b.databse: unknown key (did you mean "database"?)',
    ]);
  });

  it("says so when a key is left without a value", () => {
    expect(
      errorOf(["destinations:", "  d:", "    type: filesystem", "    path:", "targets: {}"].join("\n"))
        .message,
    ).toBe("haven.yaml:4:5: destinations.d.path: no value (expected string): give one, or remove the key");
  });

  it("reports a target left without any destination at the target", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "targets:",
        "  a: { type: sqlite, path: /a.db }",
      ].join("\n"),
    );
    expect(error.message).toBe(
      "haven.yaml:3:3: targets.a.destinations: no destination: set destinations here, or defaults.destinations for every target",
    );
  });

  it("says what verify.into must be for each target type, and that staleUploadGrace is at least 1h", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "workers: { staleUploadGrace: 10m }",
        "targets:",
        "  share: { type: files, path: /srv, verify: { into: scratch } }",
        "  db: { type: postgres, database: app, verify: { into: /var/tmp } }",
        "  shop: { type: mysql, database: shop, verify: { into: 'postgres://h/x' } }",
        "  cache: { type: redis, verify: { into: /var/tmp } }",
        "  ok: { type: sqlite, path: /a.db, verify: { into: /var/tmp } }",
      ].join("\n"),
    );
    expect(error.issues.map((i) => `${i.line}: ${i.path.join(".")}: ${i.message}`)).toEqual([
      "3: workers.staleUploadGrace: at least 1h: a shorter grace takes uploads still being written for leftovers",
      "5: targets.share.verify.into: a files target restores its tests into a folder: give an absolute path",
      "6: targets.db.verify.into: a postgres target restores its tests on a server: give a postgres:// URL",
      "7: targets.shop.verify.into: a mysql target restores its tests on a server: give a mysql:// URL",
      "8: targets.cache.verify.into: a redis target's restore tests run a private local redis-server: verify.into has no effect, remove it",
    ]);
  });

  it("refuses url parameters Haven would drop, naming them and never the url's password", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "targets:",
        "  db: { type: postgres, url: 'postgres://u:pw-9z@h/app?sslmode=require&port=5433&connect_timeout=5' }",
        "  shop: { type: mysql, url: 'mysql://u:pw-9z@h/shop?ssl-mode=REQUIRED&ssl-mode=VERIFY_CA' }",
        "  cache: { type: redis, url: 'rediss://:pw-9z@h:6380?family=6&tls=true' }",
        "  ok: { type: postgres, url: 'postgres:///app?host=/run/postgresql&port=5433&sslmode=disable' }",
      ].join("\n"),
    );
    expect(error.issues.map((i) => `${i.line}: ${i.path.join(".")}: ${i.message}`)).toEqual([
      "4: targets.db.url: url parameter connect_timeout would be ignored (a postgres url takes only sslmode, sslrootcert, sslcert, sslkey, host, port, user, dbname): use the target's fields (host, port, user, database, tls)",
      "5: targets.shop.url: url parameter ssl-mode would be ignored (a mysql url takes none): use the target's fields: tls (enabled, ca, rejectUnauthorized) for TLS, socket for a local socket",
      "6: targets.cache.url: url parameters family, tls would be ignored (a redis url takes none): use the target's fields: tls (enabled, ca, rejectUnauthorized), or a rediss:// url for TLS",
    ]);
    expect(error.message).not.toContain("pw-9z");
  });

  it("says that verify.into in defaults applies to every target, at defaults", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d], verify: { into: 'postgres://verifier/x' } }",
        "targets:",
        "  db: { type: postgres, database: app }",
        "  share: { type: files, path: /srv }",
      ].join("\n"),
    );
    expect(error.issues.map((i) => `${i.line}: ${i.path.join(".")}: ${i.message}`)).toEqual([
      "2: defaults.verify.into: a files target restores its tests into a folder: give an absolute path, for target share: defaults.verify.into applies to every target, so set it as targets.<name>.verify.into on the targets that use it",
    ]);
  });

  it("reports an empty file and a YAML syntax error without going further", () => {
    expect(errorOf("").message).toBe(
      "haven.yaml:1:1: the config is empty: it needs at least destinations and targets",
    );
    const syntax = errorOf("targets:\n  a: [unclosed\nredis: x\n");
    expect(syntax.issues.length).toBeGreaterThan(0);
    expect(syntax.message).toMatch(/^haven\.yaml:\d+:\d+: /);
    expect(syntax.message).not.toMatch(/required key is missing/); // the schema never ran
  });

  it("picks the closest form of a verification check", () => {
    const error = errorOf(
      [
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "targets:",
        "  a:",
        "    type: postgres",
        "    verify:",
        "      checks:",
        "        - sql: select 1",
        "          atLeast: one",
        "        - {}",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      "haven.yaml:9:20: targets.a.verify.checks[0].atLeast: expected number, received string",
      "haven.yaml:10:11: targets.a.verify.checks[1]: matches none of the allowed forms: sql is required; or file is required",
    ]);
  });

  it("checks the timezone and that a monthly report has a mail server", () => {
    const error = errorOf(
      [
        "timezone: Europe/Pariss",
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "targets: {}",
        "reports:",
        "  monthly: { to: [boss@example.com] }",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      'haven.yaml:1:11: timezone: unknown timezone "Europe/Pariss": use an IANA name such as UTC or Europe/Paris',
      "haven.yaml:6:12: reports.monthly: monthly reports are sent by email: configure alerts.email (its SMTP server)",
    ]);
  });

  it("rejects destinations that share keys: one store under two names, or a prefix extending another's", () => {
    const error = errorOf(
      [
        "destinations:",
        "  main: { type: s3, bucket: backups, endpoint: 'http://minio:9000' }",
        "  main-again: { type: s3, bucket: backups, endpoint: 'http://MINIO:9000/' }",
        "  site-b: { type: s3, bucket: backups, prefix: site-b-, endpoint: 'http://minio:9000' }",
        "  nested: { type: s3, bucket: backups, prefix: archive/, endpoint: 'http://minio:9000' }",
        "  elsewhere: { type: s3, bucket: backups, prefix: site-b-, endpoint: 'http://other:9000' }",
        "  aws-a: { type: s3, bucket: backups, prefix: a/ }",
        "  aws-b: { type: s3, bucket: backups, prefix: b/ }",
        "  nas: { type: filesystem, path: /srv/nas/haven }",
        "  nas-again: { type: filesystem, path: /srv/nas/haven/ }",
        "  nas-outer: { type: filesystem, path: /srv/nas }",
        "  nas-sibling: { type: filesystem, path: /srv/nas-2 }",
        "defaults: { destinations: [main] }",
        "targets:",
        "  a: { type: files, path: /data }",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      'haven.yaml:3:3: destinations.main-again: it is the same bucket backups and prefix "" as destination "main": one store under two names is one copy, not two, and each name\'s retention would prune the other\'s snapshots. Give each its own bucket, path or prefix',
      'haven.yaml:4:3: destinations.site-b: the prefixes of destinations "main" and "site-b" (bucket backups and prefix ""; bucket backups and prefix "site-b-") let "main" list the snapshots of "site-b" as targets of its own, and its prune --orphans could delete them. End the longer prefix with "/" or give each its own bucket or path',
      'haven.yaml:10:3: destinations.nas-again: it is the same path /srv/nas/haven and prefix "" as destination "nas": one store under two names is one copy, not two, and each name\'s retention would prune the other\'s snapshots. Give each its own bucket, path or prefix',
    ]);
  });

  it("rejects a files target whose folder holds its own filesystem destination, unless excluded", () => {
    const error = errorOf(
      [
        "destinations:",
        "  nas: { type: filesystem, path: /srv/share/backups }",
        "  root: { type: filesystem, path: /srv/data }",
        "  offsite: { type: s3, bucket: offsite, endpoint: 'http://minio:9000' }",
        "targets:",
        "  share: { type: files, path: /srv/share, destinations: [nas, offsite] }",
        "  data: { type: files, path: /srv/data/, destinations: [root] }",
        "  excluded: { type: files, path: /srv/share, destinations: [nas], exclude: [backups] }",
        "  other: { type: files, path: /srv/elsewhere, destinations: [nas] }",
        "  sibling: { type: files, path: /srv/share/back, destinations: [nas] }",
      ].join("\n"),
    );
    expect(error.message.split("\n")).toEqual([
      'haven.yaml:6:31: targets.share.path: it holds its own destination "nas" (/srv/share/backups): every backup would hold all the ones before it. Add "backups" to targets.share.exclude, or give the destination a folder outside /srv/share',
      'haven.yaml:7:30: targets.data.path: it is the folder of its own destination "root": every backup would hold all the ones before it. Give the destination a folder outside /srv/data',
    ]);
  });

  it("never quotes a secret value in a message", () => {
    const error = errorOf(
      [
        "redis: ${REDIS_URL}",
        "destinations: { d: { type: filesystem, path: /b } }",
        "defaults: { destinations: [d] }",
        "targets:",
        "  a: { type: postgres, url: 'postgres://u:pa55-word-xyz@h/db', password: 42 }",
        "alerts: { webhooks: [ { url: 'https://hooks.example.com/T0k3n-xyz', extra: 1 } ] }",
      ].join("\n"),
      { REDIS_URL: "redis://:r3dis-secret@127.0.0.1:6379" },
    );
    expect(error.issues.map((issue) => issue.message)).toEqual([
      "expected string, received number",
      "unknown key",
    ]);
    for (const secret of ["pa55-word-xyz", "T0k3n-xyz", "r3dis-secret"])
      expect(error.message).not.toContain(secret);
  });
});

describe("values that look right but would fail later", () => {
  it("reports a cron pattern the scheduler cannot read, a recipient with a bad checksum and a minute-long repeat", () => {
    const error = errorOf(
      [
        "destinations:",
        "  d: { type: filesystem, path: /backups }",
        "defaults: { destinations: [d] }",
        "targets:",
        "  share:",
        "    type: files",
        "    path: /srv/share",
        '    schedule: { weekly: "0 2 * * 0,7" }',
        "alerts:",
        "  webhooks: [ { url: 'https://hooks.example.com/x' } ]",
        "  repeat: 0s",
        "encryption:",
        "  recipients: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gr]",
      ].join("\n"),
    );
    const lines = error.message.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^haven\.yaml:8:\d+: targets\.share\.schedule\.weekly: not a cron expression the scheduler can use: .*Sunday is 0/,
    );
    expect(lines[1]).toMatch(/^haven\.yaml:11:\d+: alerts\.repeat: at least 10m/);
    expect(lines[2]).toMatch(
      /^haven\.yaml:13:\d+: encryption\.recipients\[0\]: .*not a valid age recipient \(bad Bech32 encoding or checksum\)/,
    );
  });
});
