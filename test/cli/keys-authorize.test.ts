/**
 * `haven keys check` decrypts every retained snapshot: verification work, the operator role's, so a
 * viewer's token is refused before anything is read or decrypted.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateIdentity } from "../../src/crypto/age";
import { Secret } from "../../src/lib/secret";
import { hashToken } from "../../src/operators";
import { runCli, withoutProgress } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

const tokens = { vera: "vera-viewer-token-0123", otto: "otto-operator-token-0123" };
let configPath: string;
let identityFile: string;

beforeAll(async () => {
  const work = await tempDir("haven-keys-authorize");
  await mkdir(join(work, "share"));
  identityFile = join(work, "identity.txt");
  await writeFile(identityFile, `${generateIdentity().identity}\n`, { mode: 0o600 });
  const sha = (token: string) => hashToken(new Secret(token));
  configPath = await writeNasConfigFile(
    work,
    `
targets:
  share: { type: files, path: ${join(work, "share")} }
operators:
  vera: { role: viewer, tokenSha256: ${sha(tokens.vera)} }
  otto: { role: operator, tokenSha256: ${sha(tokens.otto)} }
`,
  );
});

const keysCheck = (who: keyof typeof tokens) =>
  runCli(["-c", configPath, "keys", "check", "--identity", identityFile], {
    env: { HAVEN_TOKEN: tokens[who] },
  });

test("a viewer may not run keys check; an operator may", async () => {
  const byViewer = await keysCheck("vera");
  expect(byViewer.stderr).toContain("operator vera (viewer) may not verify snapshots");
  expect(byViewer.code).not.toBe(0);

  const byOperator = await keysCheck("otto");
  expect(withoutProgress(byOperator.stderr)).toBe("");
  expect(byOperator.code).toBe(0);
});
