/**
 * HAVEN_TOKEN proves who is acting to this process only: a hook or a dump tool it starts must not
 * find it in its environment (a hook that logs `env`, a tool's crash report, /proc/PID/environ).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Secret } from "../../src/lib/secret";
import { hashToken } from "../../src/operators";
import { runCli, withoutProgress } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

const token = "otto-operator-token-in-env-0123";

test("a backup's hook does not inherit the operator's HAVEN_TOKEN", async () => {
  const work = await tempDir("haven-token-env");
  await mkdir(join(work, "share"));
  await writeFile(join(work, "share", "a.txt"), "a\n");
  const seen = join(work, "hook-env.txt");
  const configPath = await writeNasConfigFile(
    work,
    `
targets:
  share:
    type: files
    path: ${join(work, "share")}
    hooks: { before: ${JSON.stringify(`env > ${seen}`)} }
operators:
  otto: { role: operator, tokenSha256: ${hashToken(new Secret(token))} }
`,
  );
  const run = await runCli(["-c", configPath, "backup", "share", "--direct"], {
    env: { HAVEN_TOKEN: token },
  });
  expect(withoutProgress(run.stderr)).toBe("");
  expect(run.code).toBe(0);
  const environment = await readFile(seen, "utf8");
  expect(environment).toContain("PATH=");
  expect(environment).not.toContain(token);
});
