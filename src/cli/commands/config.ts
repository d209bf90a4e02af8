import { Command } from "commander";
import { configJsonSchema } from "../../config/json-schema";
import { loadConfig, resolveConfigPath } from "../../config/load";

/**
 * `haven config validate [-c FILE]`: exit 0 with a one-line summary, or throw the ConfigError (exit 2,
 * one line per problem). `haven config schema`: the JSON Schema of the config on stdout, for editors.
 */
export function configCommand(): Command {
  const config = new Command("config").description(
    "check the config file, or print its JSON Schema for editors",
  );

  config
    .command("validate")
    .description("check the config file: every problem is listed as FILE:LINE:COL: path.to.key: message")
    // Also declared on the root program; declared here too so the command works on its own.
    .option("-c, --config <file>", "config file (default: $HAVEN_CONFIG, else ./haven.yaml)")
    .action(async (_options: unknown, command: Command) => {
      const file = resolveConfigPath(command.optsWithGlobals<{ config?: string }>().config);
      const loaded = await loadConfig(file);
      const targets = Object.keys(loaded.targets).length;
      const destinations = Object.keys(loaded.destinations).length;
      process.stdout.write(`ok: ${targets} targets, ${destinations} destinations\n`);
    });

  config
    .command("schema")
    .description("print the JSON Schema (draft 2020-12) of the config file")
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });

  return config;
}
