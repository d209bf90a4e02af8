/**
 * What `haven restore` tells the operator when it could not restore everything, through the built CLI
 * on a filesystem destination: owners the destination refused (a real user namespace in which the
 * archive's uid does not exist, as on a container host), and entries refused for their path.
 */
import { chown, chmod, lstat, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runCli, withoutProgress } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

let work: string;
let configPath: string;

beforeAll(async () => {
  work = await tempDir("haven-e2e-restore-outcome");
  const share = join(work, "share");
  await mkdir(join(share, "app"), { recursive: true });
  await writeFile(join(share, "app", "report.txt"), "owned by uid 1000\n");
  await writeFile(join(share, "app", "tool"), "#!/bin/sh\necho tool\n");
  await chown(join(share, "app"), 1000, 1000);
  await chown(join(share, "app", "report.txt"), 1000, 1000);
  await chown(join(share, "app", "tool"), 1000, 1000);
  await chmod(join(share, "app", "tool"), 0o4755); // after chown, which clears it
  configPath = await writeNasConfigFile(
    work,
    `
targets:
  share: { type: files, path: ${share} }
`,
  );
  const backup = await runCli(["-c", configPath, "backup", "share", "--direct"]);
  expect(withoutProgress(backup.stderr)).toBe("");
  expect(backup.code).toBe(0);
});

/** As root in a user namespace where only root is mapped: chown to uid 1000 fails with EINVAL. */
const inUserNamespace = ["unshare", "--user", "--map-root-user"];

test("owners the destination refuses: everything restored, one warning with the count, exit 3, audited partial", async () => {
  const to = join(work, "restored-in-namespace");
  const result = await runCli(["-c", configPath, "restore", "share", "--to", to], {
    prefix: inUserNamespace,
  });
  expect(result.stdout).toMatch(/restored share snapshot \S+ to .*: 2 files/);
  expect(result.stdout).toContain(
    "warning: could not set the owner of 3 restored entries: the destination refused it (EINVAL",
  );
  expect(result.stderr).toContain("the restore finished with 1 warning");
  expect(result.code).toBe(3);
  expect(await readFile(join(to, "app", "report.txt"), "utf8")).toBe("owned by uid 1000\n");
  // Owned by root now: the setuid bit would have made it a setuid-root program.
  expect((await lstat(join(to, "app", "tool"))).mode & 0o7777).toBe(0o755);

  const audit = await runCli(["-c", configPath, "audit", "-o", "json"]);
  const records = JSON.parse(audit.stdout) as Array<{
    action: string;
    outcome: string;
    detail: Record<string, unknown>;
  }>;
  expect(records.filter((r) => r.action === "restore").at(-1)).toMatchObject({
    outcome: "partial",
    detail: { warnings: 1 },
  });
});

test("entries the destination keeps out: the hint says to clear the destination, not that the snapshot is unsafe", async () => {
  const to = join(work, "restored-over-a-folder");
  await mkdir(join(to, "app", "report.txt"), { recursive: true }); // a folder where the snapshot has a file
  const result = await runCli(["-c", configPath, "restore", "share", "--to", to, "--force"]);
  expect(result.stdout).toContain('rejected "app/report.txt": a directory is in the way');
  expect(result.code).toBe(3);
  expect(result.stderr).toContain("1 archive entry was rejected and not restored");
  expect(result.stderr).toContain("1 entry refused for what is at the destination");
  expect(result.stderr).not.toMatch(/unsafe|inspect it/);
  expect(await readFile(join(to, "app", "tool"), "utf8")).toContain("echo tool");
});
