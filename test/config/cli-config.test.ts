import { join } from "node:path";
import { Command } from "commander";
import { configCommand } from "../../src/cli/commands/config";
import { ConfigError } from "../../src/config/load";
import { ExitCode } from "../../src/lib/errors";

const fixtures = join(__dirname, "../fixtures/config");

/** Runs `haven config ...args` through commander, returning what it wrote to stdout. */
async function run(args: string[], program: Command = configCommand()): Promise<string> {
  const chunks: string[] = [];
  const write = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(args, { from: "user" });
  } finally {
    write.mockRestore();
  }
  return chunks.join("");
}

describe("haven config validate", () => {
  it("prints a one-line summary for a valid file", async () => {
    expect(await run(["validate", "-c", join(fixtures, "minimal.yaml")])).toBe(
      "ok: 1 targets, 1 destinations\n",
    );
  });

  it("throws the config error, with exit code 2 and one line per problem, for an invalid file", async () => {
    const file = join(fixtures, "invalid.yaml");
    const error = await run(["validate", "-c", file]).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(ExitCode.USAGE);
    expect((error as ConfigError).exitCode).toBe(2);
    const lines = (error as ConfigError).message.split("\n");
    expect(lines).toHaveLength(9);
    for (const line of lines) expect(line.startsWith(`${file}:`)).toBe(true);
  });

  it("takes -c from the root program too, as `haven -c FILE config validate`", async () => {
    const program = new Command("haven").option("-c, --config <file>").addCommand(configCommand());
    expect(await run(["-c", join(fixtures, "minimal.yaml"), "config", "validate"], program)).toBe(
      "ok: 1 targets, 1 destinations\n",
    );
  });
});

describe("haven config schema", () => {
  it("prints the JSON Schema", async () => {
    const schema = JSON.parse(await run(["schema"])) as { properties: Record<string, unknown> };
    expect(schema.properties.targets).toBeDefined();
  });
});
