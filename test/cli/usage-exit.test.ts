/**
 * A usage error exits 2 (DESIGN.md's contract), at every depth of the command tree: the subcommands
 * of `config`, `keys`, `audit` and `token` exited 1 through commander's own process.exit.
 * Real CLI (dist/); no config is read before the arguments are.
 */
import { runCli } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

test.each([
  [["config", "validate", "--bogus"], "unknown option '--bogus'"],
  [["config", "schema", "extra"], "too many arguments for 'schema'"],
  [["keys", "check", "--bogus"], "unknown option '--bogus'"],
  [["keys", "generate", "extra"], "too many arguments for 'generate'"],
  [["audit", "verify", "extra"], "too many arguments for 'verify'"],
  [["token", "new"], "missing required argument 'operator'"],
  [["token", "new", "bob", "--role", "root"], "argument 'root' is invalid"],
  [["snapshots", "--bogus"], "unknown option '--bogus'"],
  [["nosuch"], "unknown command 'nosuch'"],
  [["--log-level", "verbose", "status"], "argument 'verbose' is invalid"],
  [["restore", "app", "--to", "/tmp/x", "-o", "yaml"], "argument 'yaml' is invalid"],
  [["approve", "some-request", "-o", "yaml"], "argument 'yaml' is invalid"],
])("haven %j is a usage error: exit 2", async (args, message) => {
  const result = await runCli(args);
  expect(result.stderr).toContain(message);
  expect(result.code).toBe(2);
});

test.each([[["config", "validate", "--help"]], [["keys", "check", "--help"]], [["--version"]]])(
  "haven %j exits 0",
  async (args) => {
    const result = await runCli(args);
    expect(result.code).toBe(0);
  },
);

test("HAVEN_LOG_LEVEL naming no level is a usage error that says so, not pino's complaint", async () => {
  const work = await tempDir("haven-log-level");
  const config = await writeNasConfigFile(work, "targets: {}\n");
  const result = await runCli(["-c", config, "snapshots"], { env: { HAVEN_LOG_LEVEL: "verbose" } });
  expect(result.stderr).toContain('HAVEN_LOG_LEVEL="verbose" is not a log level');
  expect(result.stderr).not.toContain("custom levels");
  expect(result.code).toBe(2);
});
