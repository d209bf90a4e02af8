/**
 * With operators configured, every command says who acts, the reading ones too: `snapshots`,
 * `status` and `report` need a token (any role reads), and `report --send`, which writes under
 * _reports/ and emails the readers, needs the operator role. Real CLI (dist/).
 */
import { join } from "node:path";
import { Secret } from "../../src/lib/secret";
import { hashToken } from "../../src/operators";
import { runCli } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

const vera = "vera-viewer-token-4567";
let configPath: string;

beforeAll(async () => {
  const work = await tempDir("haven-read-authorize");
  configPath = await writeNasConfigFile(
    work,
    `
targets:
  share: { type: files, path: ${join(work, "share")} }
operators:
  vera: { role: viewer, tokenSha256: ${hashToken(new Secret(vera))} }
`,
  );
});

const haven = (args: string[], token?: string) =>
  runCli(["-c", configPath, "--log-level", "error", ...args], {
    env: { REDIS_URL: "", ...(token ? { HAVEN_TOKEN: token } : {}) },
  });

test.each([["snapshots"], ["status"], ["report", "--month", "2026-11"]])(
  "haven %s without a token is refused: nothing says who acts",
  async (...args) => {
    const result = await haven(args);
    expect(result.stderr).toContain("operators are configured, and nothing says which one is acting");
    expect(result.code).toBe(12);
  },
);

test("a viewer lists snapshots and reads a report, but may not send it", async () => {
  expect((await haven(["snapshots"], vera)).code).toBe(0);
  expect((await haven(["report", "--month", "2026-11"], vera)).code).toBe(0);
  const send = await haven(["report", "--month", "2026-11", "--send"], vera);
  expect(send.stderr).toContain("operator vera (viewer) may not store and send the monthly report");
  expect(send.code).not.toBe(0);
});
