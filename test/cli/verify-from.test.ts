/**
 * `haven verify --from DEST` checks the copy a destination holds and records the result beside it:
 * a copy can be proved restorable before the disaster that needs it, and, with the primary lost, it
 * is all there is to verify. Real CLI (dist/), two filesystem destinations.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load";
import { copySnapshot } from "../../src/copy";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { runCli } from "../helpers/cli";
import { tempDir, writeConfigFile } from "../helpers/s3-config";

let work: string;
let config: string;
let snapshotId: string;

beforeAll(async () => {
  work = await tempDir("haven-verify-from");
  const share = join(work, "share");
  await mkdir(share);
  await mkdir(join(work, "nas"));
  await mkdir(join(work, "offsite"));
  await writeFile(join(share, "ledger.txt"), "entry\n".repeat(5000));
  config = await writeConfigFile(
    work,
    [
      "destinations:",
      `  nas: { type: filesystem, path: ${join(work, "nas")} }`,
      `  offsite: { type: filesystem, path: ${join(work, "offsite")} }`,
      "targets:",
      `  app: { type: files, path: ${share}, destinations: [nas, offsite] }`,
      "",
    ].join("\n"),
  );
  const backup = await runCli(["-c", config, "backup", "app", "--direct"]);
  expect(backup.code).toBe(0);
  [snapshotId] = (await readdir(join(work, "nas", "app"))) as [string];
  const loaded = await loadConfig(config);
  const [nas, offsite] = [loaded.destinations.nas, loaded.destinations.offsite].map((d) =>
    createStorage(d!, silentLogger),
  ) as [ReturnType<typeof createStorage>, ReturnType<typeof createStorage>];
  await copySnapshot(loaded, "app", snapshotId, nas, offsite);
  // The disaster: the primary's copy of the target is gone.
  await rm(join(work, "nas", "app"), { recursive: true });
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

test("with the primary lost, verify fails there and passes on the copy, with the record kept on the copy", async () => {
  const primary = await runCli(["-c", config, "verify", "app", "--kind", "integrity"]);
  expect(primary.code).not.toBe(0);

  for (const kind of ["integrity", "restore"]) {
    const result = await runCli(["-c", config, "verify", "app", "--kind", kind, "--from", "offsite"]);
    expect(result.stdout).toContain(`${kind} check of app snapshot ${snapshotId} on offsite: passed`);
    expect(result.code).toBe(0);
  }
  const records = await readdir(join(work, "offsite", "app", snapshotId, "verifications"));
  expect(records).toHaveLength(2);
  const kinds = await Promise.all(
    records.map(async (name) => {
      const text = await readFile(join(work, "offsite", "app", snapshotId, "verifications", name), "utf8");
      return (JSON.parse(text) as { kind: string; result: string }).kind;
    }),
  );
  expect(kinds.sort()).toEqual(["integrity", "restore"]);
});

test("damage on the copy is found there, and the re-run hint keeps --from", async () => {
  const data = join(work, "offsite", "app", snapshotId, "data.tar.zst");
  const bytes = await readFile(data);
  const middle = bytes.length >> 1;
  bytes[middle] = (bytes[middle] as number) ^ 0xff;
  await writeFile(data, bytes);
  const result = await runCli(["-c", config, "verify", "app", "--kind", "integrity", "--from", "offsite"]);
  expect(result.stderr).toMatch(/verification of app failed: snapshot \S+ is damaged/);
  expect(result.stderr).toContain("on offsite");
  expect(result.code).toBe(1);
});

test("a destination the config does not name is a usage error listing the known ones", async () => {
  const result = await runCli(["-c", config, "verify", "app", "--from", "ofsite"]);
  expect(result.stderr).toContain('no destination named "ofsite"');
  expect(result.stderr).toContain("nas, offsite");
  expect(result.code).toBe(2);
});
