/**
 * `haven doctor` run as an operator runs it (the built CLI): every destination, this host's age
 * identity and every target, with a FIX for each failing row and exit 1 when any fails.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DoctorRow } from "../../src/cli/commands/doctor";
import { generateIdentity } from "../../src/crypto/age";
import { runCli } from "../helpers/cli";
import { tempDir, writeConfigFile } from "../helpers/s3-config";

let work: string;
let configPath: string;
const key = generateIdentity();

beforeAll(async () => {
  work = await tempDir("haven-doctor");
  await mkdir(join(work, "nas"));
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "ledger.txt"), "data");
  await writeFile(join(work, "key.txt"), `${key.identity}\n`, { mode: 0o600 });
  await writeFile(join(work, "open-key.txt"), `${key.identity}\n`, { mode: 0o644 });
  await writeFile(join(work, "stranger.txt"), `${generateIdentity().identity}\n`, { mode: 0o600 });
  configPath = await writeConfigFile(
    work,
    `
destinations:
  nas: { type: filesystem, path: ${join(work, "nas")} }
defaults: { destinations: [nas] }
encryption:
  recipients: [${key.recipient}]
targets:
  share: { type: files, path: ${join(work, "share")} }
`,
  );
});

async function doctor(identityFile?: string): Promise<{ code: number | null; rows: DoctorRow[] }> {
  const env = identityFile === undefined ? {} : { HAVEN_IDENTITY_FILE: join(work, identityFile) };
  const result = await runCli(["-c", configPath, "doctor", "-o", "json"], { env });
  return { code: result.code, rows: JSON.parse(result.stdout) as DoctorRow[] };
}

const identityRow = (rows: DoctorRow[]) => rows.find((row) => row.kind === "encryption");

test("a host whose identity holds a recipient's key passes every check", async () => {
  const { code, rows } = await doctor("key.txt");
  expect(rows.filter((row) => !row.ok)).toEqual([]);
  expect(code).toBe(0);
  expect(identityRow(rows)).toMatchObject({ ok: true, detail: expect.stringContaining(key.recipient) });
  expect(rows.map((row) => `${row.kind} ${row.check}`)).toEqual(
    expect.arrayContaining([
      "destination reachable",
      "encryption identity file",
      "target backup would start",
    ]),
  );
});

test("an identity readable by others, or holding no recipient's key, fails with the fix", async () => {
  const open = await doctor("open-key.txt");
  expect(open.code).toBe(1);
  expect(identityRow(open.rows)).toMatchObject({ ok: false, fix: expect.stringContaining("chmod 600") });

  const stranger = await doctor("stranger.txt");
  expect(stranger.code).toBe(1);
  expect(identityRow(stranger.rows)).toMatchObject({
    ok: false,
    detail: expect.stringContaining("holds no key for any of encryption.recipients"),
  });

  const missing = await doctor("nope.txt");
  expect(identityRow(missing.rows)).toMatchObject({ ok: false, detail: expect.stringContaining("nope.txt") });
  expect(identityRow(missing.rows)?.detail).not.toContain("AGE-SECRET-KEY");
});

test("no identity on this host is fine for backups, and said so", async () => {
  const { code, rows } = await doctor();
  expect(code).toBe(0);
  expect(identityRow(rows)).toMatchObject({
    ok: true,
    detail: expect.stringContaining("not restore or verify"),
  });
});

test("an empty share fails the target's check with the allowEmpty and mountpoint fix", async () => {
  await rm(join(work, "share", "ledger.txt"));
  try {
    const { code, rows } = await doctor("key.txt");
    expect(code).toBe(1);
    expect(rows.find((row) => row.kind === "target" && !row.ok)).toMatchObject({
      check: "backup would start",
      fix: expect.stringContaining("allowEmpty: true"),
    });
  } finally {
    await writeFile(join(work, "share", "ledger.txt"), "data");
  }
});
