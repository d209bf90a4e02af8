/**
 * `haven snapshots` is what an operator reads in a disaster: a mistyped `--from` or target used to
 * print "no snapshots" with exit 0, and a target argument that is no name at all ended in "this is a
 * bug, please report it". Real CLI (dist/), a filesystem destination holding one real snapshot.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

let config: string;
let orphanConfig: string;

beforeAll(async () => {
  const work = await tempDir("haven-snapshots-args");
  const share = join(work, "share");
  await mkdir(share);
  await writeFile(join(share, "a.txt"), "hello");
  config = await writeNasConfigFile(
    work,
    `targets:\n  app: { type: files, path: ${share} }\n  empty-db: { type: sqlite, path: ${join(work, "x.db")} }\n`,
  );
  const backup = await runCli(["-c", config, "backup", "app", "--direct"]);
  expect(backup.stderr).toBe("");
  expect(backup.code).toBe(0);
  // The same destination, with app removed from the config: its snapshots are an orphan's now.
  const orphanWork = await tempDir("haven-snapshots-orphan");
  orphanConfig = join(orphanWork, "haven.yaml");
  await writeFile(
    orphanConfig,
    `destinations:\n  nas: { type: filesystem, path: ${join(work, "nas")} }\ndefaults: { destinations: [nas] }\n` +
      `targets:\n  other: { type: files, path: ${share} }\n`,
  );
});

test("--from naming no destination is a usage error listing the known ones", async () => {
  const result = await runCli(["-c", config, "snapshots", "--from", "offsite"]);
  expect(result.stdout).toBe("");
  expect(result.stderr).toContain('no destination named "offsite"');
  expect(result.stderr).toContain("known destinations: nas");
  expect(result.code).toBe(2);
});

test("a target neither configured nor on any destination is a usage error listing the known ones", async () => {
  const result = await runCli(["-c", config, "snapshots", "ap", "-o", "json"]);
  expect(result.stdout).toBe("");
  expect(result.stderr).toContain('no target named "ap"');
  expect(result.stderr).toContain("known targets: app, empty-db");
  expect(result.code).toBe(2);
});

test("a target argument that is no target name is a usage error, not a bug report", async () => {
  const result = await runCli(["-c", config, "snapshots", "../"]);
  expect(result.stderr).toContain('"../" is not a target name');
  expect(result.stderr).not.toContain("report it");
  expect(result.code).toBe(2);
});

test("a configured target without snapshots still says so and exits 0", async () => {
  const result = await runCli(["-c", config, "snapshots", "empty-db"]);
  expect(result.stdout).toBe("no snapshots of empty-db\n");
  expect(result.code).toBe(0);
});

test("a target removed from the config is still listed from the destination", async () => {
  const result = await runCli(["-c", orphanConfig, "snapshots", "app", "-o", "json"]);
  expect(result.code).toBe(0);
  const rows = JSON.parse(result.stdout) as Array<{ target: string; destination: string }>;
  expect(rows).toEqual([expect.objectContaining({ target: "app", destination: "nas" })]);
});
