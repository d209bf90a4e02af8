/**
 * What a failed `haven verify` tells the operator. Every failure used to advise "restore from an older
 * snapshot or another destination" with exit 1, also when the host merely lacked the age identity: a
 * good snapshot read as damaged, and the fix (give the host its identity) went unsaid. Real CLI
 * (dist/), a filesystem destination.
 */
import { readdir, readFile, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { generateIdentity } from "../../src/crypto/age";
import { runCli } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

async function configWithSnapshot(prefix: string, extra: string): Promise<{ config: string; dir: string }> {
  const work = await tempDir(prefix);
  const share = join(work, "share");
  await mkdir(share);
  await writeFile(join(share, "a.txt"), "hello ".repeat(1000));
  const config = await writeNasConfigFile(work, `${extra}targets:\n  app: { type: files, path: ${share} }\n`);
  const backup = await runCli(["-c", config, "backup", "app", "--direct"]);
  expect(backup.code).toBe(0);
  const [id] = await readdir(join(work, "nas", "app"));
  return { config, dir: join(work, "nas", "app", id as string) };
}

test("without the age identity: exit 12, not damaged, and the fix is the identity", async () => {
  const { recipient } = generateIdentity();
  const { config } = await configWithSnapshot(
    "haven-verify-noid",
    `encryption: { recipients: [${recipient}] }\n`,
  );
  for (const kind of ["restore", "integrity"]) {
    const result = await runCli(["-c", config, "verify", "app", "--kind", kind], {
      env: { HAVEN_IDENTITY_FILE: "" },
    });
    expect(result.stderr).toContain("no age identity is configured");
    expect(result.stderr).toMatch(/does not show that snapshot \S+ is damaged/);
    expect(result.stderr).toContain("HAVEN_IDENTITY_FILE");
    expect(result.stderr).not.toContain("restore from an older snapshot");
    expect(result.code).toBe(12);
  }
});

test("a snapshot whose data no longer matches its hash: damaged, restore an older one, exit 1", async () => {
  const { config, dir } = await configWithSnapshot("haven-verify-damaged", "");
  const data = join(dir, "data.tar.zst");
  const bytes = await readFile(data);
  const middle = bytes.length >> 1;
  bytes[middle] = (bytes[middle] as number) ^ 0xff;
  await writeFile(data, bytes);
  const result = await runCli(["-c", config, "verify", "app", "--kind", "integrity"]);
  expect(result.stderr).toMatch(/verification of app failed: snapshot \S+ is damaged/);
  expect(result.stderr).toContain("restore from an older snapshot or another destination");
  expect(result.code).toBe(1);
});
