/**
 * A usage error exits 2 (DESIGN.md's contract), at every depth of the command tree: the subcommands
 * of `config`, `keys`, `audit` and `token` exited 1 through commander's own process.exit.
 * Real CLI (dist/); no config is read before the arguments are.
 */
import { runCli } from "../helpers/cli";

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
