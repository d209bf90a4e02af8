/**
 * HAVEN_TOKEN proves who is acting to this process only: a hook or a dump tool it starts must not
 * find it in its environment (a hook that logs `env`, a tool's crash report, /proc/PID/environ).
 * Nor may a hook find a secret the config took from a variable (`url: ${CACHE_URL}`).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Secret } from "../../src/lib/secret";
import { hashToken } from "../../src/operators";
import { runCli, withoutProgress } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

const token = "otto-operator-token-in-env-0123";

/** A config with one files target `share` whose `hooks:` mapping is `hooks`, and `rest` added. */
async function shareWithHooks(work: string, hooks: string, rest = ""): Promise<string> {
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "a.txt"), "a\n");
  return writeNasConfigFile(
    work,
    `
targets:
  share:
    type: files
    path: ${join(work, "share")}
    hooks: ${hooks}
${rest}`,
  );
}

/**
 * Backs up a share whose before hook writes its environment to a file, with `rest` added to the
 * config and `env` to the CLI's environment; returns what the hook saw.
 */
async function hookEnvironment(rest: string, env: Record<string, string>): Promise<string> {
  const work = await tempDir("haven-hook-env");
  const seen = join(work, "hook-env.txt");
  const configPath = await shareWithHooks(work, `{ before: ${JSON.stringify(`env > ${seen}`)} }`, rest);
  const run = await runCli(["-c", configPath, "backup", "share", "--direct"], { env });
  expect(withoutProgress(run.stderr)).toBe("");
  expect(run.code).toBe(0);
  return readFile(seen, "utf8");
}

test("a backup's hook does not inherit the operator's HAVEN_TOKEN", async () => {
  const environment = await hookEnvironment(
    `operators:\n  otto: { role: operator, tokenSha256: ${hashToken(new Secret(token))} }\n`,
    { HAVEN_TOKEN: token },
  );
  expect(environment).toContain("PATH=");
  expect(environment).not.toContain(token);
});

test("a backup's hook does not inherit a variable the config took a secret from", async () => {
  const password = "cache-Pa55word-from-env-9";
  const environment = await hookEnvironment(`  cache: { type: redis, url: "\${CACHE_URL}" }\n`, {
    CACHE_URL: `redis://:${encodeURIComponent(password)}@127.0.0.1:6379`,
    HAVEN_TEST_UNRELATED: "kept",
  });
  expect(environment).toContain("HAVEN_TEST_UNRELATED=kept");
  expect(environment).not.toContain("CACHE_URL");
  expect(environment).not.toContain(password);
});

test("a backup's hook does not inherit the S3 credentials the SDK reads from the environment", async () => {
  const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  const environment = await hookEnvironment("", {
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_SESSION_TOKEN: "session-token-from-the-instance-role",
  });
  expect(environment).toContain("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE");
  expect(environment).not.toContain(secretKey);
  expect(environment).not.toContain("AWS_SESSION_TOKEN");
});

test("a short password takes nothing from a hook but the variable it came from (PATH, PGUSER stay)", async () => {
  // "postgres" is a common password, the name of the default role and database, and part of PATH.
  const environment = await hookEnvironment(
    `  cache: { type: redis, url: "\${CACHE_URL}" }\n  app: { type: postgres, url: "postgres://app:\${APP_PASSWORD}@127.0.0.1/app" }\n`,
    {
      CACHE_URL: "redis://:postgres@127.0.0.1:6379",
      APP_PASSWORD: "postgres",
      PGUSER: "postgres",
      PGDATABASE: "postgres",
      PATH: `/usr/lib/postgresql/15/bin:${process.env.PATH ?? "/usr/bin:/bin"}`,
    },
  );
  expect(environment).toMatch(/^PATH=\/usr\/lib\/postgresql\/15\/bin:/m);
  expect(environment).toMatch(/^PGUSER=postgres$/m);
  expect(environment).toMatch(/^PGDATABASE=postgres$/m);
  expect(environment).not.toContain("CACHE_URL");
  expect(environment).not.toContain("APP_PASSWORD");
});

test("a variable used for a setting that is not a secret is inherited, one used for a secret is not", async () => {
  const environment = await hookEnvironment(
    `  cache: { type: redis, host: "\${CACHE_HOST}", port: 6379, password: "\${CACHE_PASSWORD}" }\n`,
    { CACHE_HOST: "127.0.0.1", CACHE_PASSWORD: "cache-Pa55word-9" },
  );
  expect(environment).toMatch(/^CACHE_HOST=127\.0\.0\.1$/m);
  expect(environment).not.toContain("CACHE_PASSWORD");
  expect(environment).not.toContain("cache-Pa55word-9");
});

test("hooks know their target and snapshot, and an after hook past its timeout says it timed out", async () => {
  const work = await tempDir("haven-hook-names");
  const before = join(work, "before.txt");
  const configPath = await shareWithHooks(
    work,
    `{ before: ${JSON.stringify(`echo "$HAVEN_TARGET $HAVEN_SNAPSHOT" > ${before}`)}, after: sleep 30, timeout: 1s }`,
  );
  const run = await runCli(["-c", configPath, "backup", "share", "--direct", "-o", "json"]);
  expect(run.code).toBe(0);
  const { snapshotId } = JSON.parse(run.stdout) as { snapshotId: string };
  expect(await readFile(before, "utf8")).toBe(`share ${snapshotId}\n`);
  expect(run.stderr).toMatch(/after hook timed out after 1s/);
  expect(run.stderr).not.toMatch(/cancelled/);
});

test("an after hook runs when the before hook failed, and not when the probe stopped the run first", async () => {
  const work = await tempDir("haven-hook-after");
  const after = join(work, "after.txt");
  const hooks = (before: string) =>
    `{ before: ${JSON.stringify(before)}, after: ${JSON.stringify(`echo "$HAVEN_RESULT" >> ${after}`)} }`;
  const configPath = await shareWithHooks(work, hooks("exit 3"));
  const failedBefore = await runCli(["-c", configPath, "backup", "share", "--direct"]);
  expect(failedBefore.code).toBe(1);
  expect(await readFile(after, "utf8")).toBe("failed\n");

  // An empty share fails the probe (no allowEmpty): nothing was paused, so nothing is resumed.
  const empty = await tempDir("haven-hook-probe");
  const emptyConfig = await writeNasConfigFile(
    empty,
    `targets:\n  share: { type: files, path: ${join(empty, "nothing")}, hooks: ${hooks("true")} }\n`,
  );
  await mkdir(join(empty, "nothing"));
  const probeFailed = await runCli(["-c", emptyConfig, "backup", "share", "--direct"]);
  expect(probeFailed.code).toBe(1);
  expect(probeFailed.stderr).toMatch(/empty|allowEmpty/);
  expect(await readFile(after, "utf8")).toBe("failed\n");
});
