/**
 * Issue 7 acceptance for encryption: Haven's encrypted snapshots decrypt with Debian's `age` CLI and
 * restore with standard tools alone; either of two recipients' identities decrypts; a wrong identity
 * fails with exit 12; a truncated or bit-flipped payload never restores as success; `haven keys check`.
 */
import { execFileSync, execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, open, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Manifest } from "../../src/catalog/manifest";
import { generateIdentity } from "../../src/crypto/age";
import { compareTrees } from "../../src/lib/tree-compare";
import { parseVerificationRecord } from "../../src/slo/inputs";
import { runCli } from "../helpers/cli";
import { tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";

let work: string;
let configPath: string;
let nas: string;
const first = generateIdentity();
const pgDatabase = uniqueName("haven_enc").replace(/-/g, "_");
let second: { identity: string; recipient: string };

const psql = (sql: string, db = "postgres") =>
  execFileSync(
    "psql",
    ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
    {
      encoding: "utf8",
    },
  ).trim();

beforeAll(async () => {
  work = await tempDir("haven-e2e-enc");
  nas = join(work, "nas");
  await mkdir(nas); // the destination's root: Haven never creates it
  // The second identity comes from the age tool itself, so interop is proven both ways.
  const keygen = execFileSync("age-keygen", [], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  second = {
    identity: keygen.split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-"))!,
    recipient: /public key: (age1\S+)/.exec(keygen)![1]!,
  };
  await writeFile(join(work, "first.txt"), `${first.identity}\n`, { mode: 0o600 });
  await writeFile(join(work, "second.txt"), `${second.identity}\n`, { mode: 0o600 });
  await writeFile(join(work, "stranger.txt"), `${generateIdentity().identity}\n`, { mode: 0o600 });
  await mkdir(join(work, "share/sub"), { recursive: true });
  await writeFile(join(work, "share/sub/hello.txt"), "hello, world\n".repeat(10_000));
  await writeFile(join(work, "share/random.bin"), execFileSync("head", ["-c", "300000", "/dev/urandom"]));
  psql(`create database ${pgDatabase}`);
  psql(
    "create table t (id int primary key, note text); insert into t select g, md5(g::text) from generate_series(1, 5000) g",
    pgDatabase,
  );
  configPath = await writeConfigFile(
    work,
    `
destinations:
  nas: { type: filesystem, path: ${nas} }
defaults: { destinations: [nas] }
encryption:
  recipients: [${first.recipient}, ${second.recipient}]
  identityFile: ${join(work, "first.txt")}
targets:
  share: { type: files, path: ${join(work, "share")} }
  pg: { type: postgres, host: 127.0.0.1, user: postgres, database: ${pgDatabase} }
`,
  );
});

afterAll(() => {
  psql(`drop database if exists ${pgDatabase}`);
  psql(`drop database if exists ${pgDatabase}_restored`);
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(["-c", configPath, ...args], { env });

async function payloadPath(target: string, stream = "data"): Promise<string> {
  const files = await readdir(join(nas, target), { recursive: true });
  const found = files
    .filter((f) => f.split("/").at(-1)!.startsWith(`${stream}.`))
    .sort()
    .at(-1);
  return join(nas, target, found!);
}

test("a Haven snapshot decrypts with the age CLI (either recipient) and restores with age | zstd | tar alone", async () => {
  const backup = await cli(["backup", "share", "--direct", "-o", "json"]);
  expect(backup.code).toBe(0);
  const id = JSON.parse(backup.stdout).snapshotId as string;
  const manifest = JSON.parse(readFileSync(join(nas, "share", id, "manifest.json"), "utf8")) as Manifest;
  expect(manifest.payload[0]!.key).toMatch(/data\.tar\.zst\.age$/);
  expect(manifest.payload[0]!.encryption!.recipients).toHaveLength(2);
  expect(JSON.stringify(manifest)).not.toContain("AGE-SECRET-KEY");
  expect(manifest.restore.join("\n")).toContain("age -d");

  // The manifest's own recipe, run as written (in the snapshot's folder, as its first line says),
  // with either recipient's identity; only the restore folder is this test's.
  const folder = join(nas, "share", id);
  for (const key of ["first.txt", "second.txt"]) {
    const out = join(work, `by-hand-${key}`);
    const script = manifest.restore.join("\n").replaceAll("/restore/dir", out);
    const printed = execSync(script, {
      cwd: folder,
      shell: "/bin/sh",
      env: { ...process.env, AGE_IDENTITY_FILE: join(work, key) },
      encoding: "utf8",
    });
    expect(printed).toContain(manifest.payload[0]!.sha256);
    expect(await compareTrees(join(work, "share"), out)).toEqual([]);
  }
});

test("haven restore decrypts with the configured identity; a wrong identity fails with exit 12", async () => {
  const to = join(work, "restored");
  expect((await cli(["restore", "share", "--to", to])).code).toBe(0);
  expect(await compareTrees(join(work, "share"), to)).toEqual([]);

  const wrong = await cli(["restore", "share", "--to", join(work, "wrong")], {
    HAVEN_IDENTITY_FILE: join(work, "stranger.txt"),
  });
  expect(wrong.code).toBe(12);
  expect(wrong.stderr).toMatch(/identit/i);
});

test("haven verify with a wrong identity fails with exit 12 and blames the identity, not the snapshot", async () => {
  // Seen in an operator drill: exit 1 and "restore from an older snapshot or another destination",
  // for a snapshot that was fine and only needed the right identity file.
  const wrong = await cli(["verify", "share", "--kind", "integrity"], {
    HAVEN_IDENTITY_FILE: join(work, "stranger.txt"),
  });
  expect(wrong.stdout).toContain("FAIL");
  expect(wrong.stderr).toMatch(
    /verification of share failed: .*this does not show that snapshot \S+ is damaged/,
  );
  expect(wrong.stderr).toContain("encryption.identityFile");
  expect(wrong.stderr).not.toContain("restore from an older snapshot");
  expect(wrong.code).toBe(12);
});

test("an encrypted PostgreSQL snapshot restores with age -d | zstd -d | pg_restore alone", async () => {
  expect((await cli(["backup", "pg", "--direct"])).code).toBe(0);
  const data = await payloadPath("pg");
  expect(data).toMatch(/\.pgdump\.zst\.age$/);
  psql(`create database ${pgDatabase}_restored`);
  execSync(
    `age -d -i ${join(work, "second.txt")} < '${data}' | zstd -d | pg_restore -h 127.0.0.1 -U postgres -d ${pgDatabase}_restored`,
  );
  expect(
    psql("select count(*), md5(string_agg(note, ',' order by id)) from t", `${pgDatabase}_restored`),
  ).toBe(psql("select count(*), md5(string_agg(note, ',' order by id)) from t", pgDatabase));
});

test("keys check: every snapshot decrypts with the identity at hand; a stranger's identity fails with exit 12", async () => {
  const ok = await cli(["keys", "check", "-o", "json"]);
  expect(ok.code).toBe(0);
  const rows = JSON.parse(ok.stdout) as Array<{ ok: boolean }>;
  expect(rows.length).toBeGreaterThanOrEqual(2);
  expect(rows.every((r) => r.ok)).toBe(true);
  const bad = await cli(["keys", "check", "--identity", join(work, "stranger.txt")]);
  expect(bad.code).toBe(12);
});

test("keys check checks every destination: one it cannot list is its own failed row, the rest are checked, exit 1", async () => {
  // First in the config, so it comes first: a share that did not mount (Haven never creates a root).
  const twoDestinations = join(work, "two-destinations.yaml");
  await writeFile(
    twoDestinations,
    readFileSync(configPath, "utf8").replace(
      "destinations:\n",
      `destinations:\n  unmounted: { type: filesystem, path: ${join(work, "unmounted")} }\n`,
    ),
  );
  const result = await runCli(["-c", twoDestinations, "keys", "check", "-o", "json"]);
  expect(result.code).toBe(1);
  expect(result.stderr).not.toMatch(/\n\s+at /); // a finding, not a crash
  expect(result.stderr).toMatch(/1 destination could not be listed: unmounted/);
  const rows = JSON.parse(result.stdout) as Array<{ destination: string; ok: boolean; detail: string }>;
  expect(rows.filter((r) => !r.ok)).toEqual([
    expect.objectContaining({
      destination: "unmounted",
      detail: expect.stringContaining("could not list it"),
    }),
  ]);
  const checked = rows.filter((r) => r.destination === "nas");
  expect(checked.length).toBeGreaterThanOrEqual(2);
  expect(checked.every((r) => r.ok)).toBe(true);
});

test("a bit-flipped or truncated payload never restores as success", async () => {
  const data = await payloadPath("share");
  const size = (await stat(data)).size;
  const handle = await open(data, "r+");
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, size - 100);
  await handle.write(Buffer.from([byte[0]! ^ 1]), 0, 1, size - 100);
  await handle.close();
  const flipped = await cli(["restore", "share", "--to", join(work, "flipped")]);
  expect(flipped.code).not.toBe(0);
  // The integrity check records it as damage (a chunk failing authentication once the key matched),
  // not as a key problem, so the snapshot stops counting as a good backup.
  const verified = await cli(["verify", "share", "--kind", "integrity", "-o", "json"]);
  expect(verified.code).not.toBe(0);
  const recordFile = (await readdir(join(nas, "share"), { recursive: true }))
    .filter((f) => f.includes("verifications/"))
    .sort()
    .at(-1)!;
  const raw = readFileSync(join(nas, "share", recordFile), "utf8");
  expect(JSON.parse(raw)).toMatchObject({ result: "failed", error: { code: "INTEGRITY" } });
  expect(parseVerificationRecord(raw, recordFile).damaged).toBe(true);
  // A restore test of it records its failure too (it neither crashes nor passes).
  const restoreTest = await cli(["verify", "share", "--kind", "restore", "-o", "json"]);
  expect(restoreTest.code).not.toBe(0);
  expect(restoreTest.stderr).not.toMatch(/\n\s+at /);
  const records = (await readdir(join(nas, "share"), { recursive: true })).filter((f) =>
    f.includes("verifications/"),
  );
  const newest = records.sort().at(-1)!;
  expect(newest).not.toBe(recordFile);
  const restoreRaw = readFileSync(join(nas, "share", newest), "utf8");
  expect(JSON.parse(restoreRaw)).toMatchObject({ kind: "restore", result: "failed" });
  expect(parseVerificationRecord(restoreRaw, newest).damaged).toBe(true);

  // Proven damaged, it is no longer "the newest" to restore; asked for by id, it still fails loudly.
  const damagedId = (JSON.parse(raw) as { snapshotId: string }).snapshotId;
  const newestRefused = await cli(["restore", "share", "--to", join(work, "newest")]);
  expect(newestRefused.code).not.toBe(0);
  expect(newestRefused.stderr).toContain(`its verification proved it damaged`);
  await truncate(data, Math.floor(size / 2));
  const truncated = await cli(["restore", "share", "--snapshot", damagedId, "--to", join(work, "truncated")]);
  expect(truncated.code).not.toBe(0);
  expect(truncated.stderr).toMatch(/corrupt|truncat|decrypt/i);
});

test("keys check reports an object it cannot read as that object's row, and checks the others", async () => {
  await rm(await payloadPath("share"));
  const result = await cli(["keys", "check", "-o", "json"]);
  expect(result.code).toBe(12);
  expect(result.stderr).not.toMatch(/\n\s+at /); // a finding, not a crash
  const rows = JSON.parse(result.stdout) as Array<{ target: string; ok: boolean; detail: string }>;
  expect(rows.filter((r) => !r.ok)).toEqual([
    expect.objectContaining({ target: "share", detail: expect.stringContaining("could not read it") }),
  ]);
  expect(rows.filter((r) => r.ok).length).toBeGreaterThanOrEqual(1);
});
