/**
 * A hint that tells the operator to run a command must name one that exists: the wrong-token hint
 * sent operators to `haven token hash`, which never existed (`haven token new` prints the hash).
 * Every `haven COMMAND [SUBCOMMAND]` quoted in the code's strings is looked up in the real program.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { sourceFiles } from "../helpers/source-files";
import { buildProgram } from "../../src/cli/main";

const SRC = join(__dirname, "..", "..", "src");

/** `haven X` or `haven X Y` in code (comments left out), with where it stands. */
function quotedCommands(): Array<{ where: string; words: string[] }> {
  const found: Array<{ where: string; words: string[] }> = [];
  for (const file of sourceFiles(SRC)) {
    // The demo is `npm run demo`, and prints "haven demo: ok" as its own name.
    if (relative(SRC, file).startsWith("demo")) continue;
    readFileSync(file, "utf8")
      .split("\n")
      .forEach((line, index) => {
        const code = line.trim();
        if (code.startsWith("*") || code.startsWith("/*") || code.startsWith("//")) return;
        for (const match of code.matchAll(/`haven ([a-z]+)(?: ([a-z]+))?/g)) {
          const words = [match[1], match[2]].filter((w): w is string => w !== undefined);
          found.push({ where: `${relative(SRC, file)}:${index + 1}`, words });
        }
      });
  }
  return found;
}

test("every haven command a hint or message quotes exists", () => {
  const program = buildProgram();
  const quoted = quotedCommands();
  expect(quoted.length).toBeGreaterThan(20);
  const missing: string[] = [];
  for (const { where, words } of quoted) {
    const [name, sub] = words;
    const command = program.commands.find((c) => c.name() === name);
    if (!command) {
      missing.push(`${where}: haven ${name}`);
      continue;
    }
    // A second word counts only where the command has subcommands (`haven backup shared-files` is
    // an argument, `haven token hash` a subcommand).
    if (sub !== undefined && command.commands.length > 0 && !command.commands.some((c) => c.name() === sub)) {
      missing.push(`${where}: haven ${name} ${sub}`);
    }
  }
  expect(missing).toEqual([]);
});
