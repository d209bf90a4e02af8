import { Command, Option } from "commander";
import { generateToken, operatorConfigSnippet, ROLES, type Role } from "../../operators";

export function tokenCommand(): Command {
  const token = new Command("token").description(
    "API tokens for operators (stored in the config as sha256 only)",
  );
  token
    .command("new")
    .description(
      "generate a token for an operator: prints the token once and the config lines holding its hash",
    )
    .argument("<operator>", "operator name")
    .addOption(new Option("--role <role>", "the operator's role").choices([...ROLES]).default("operator"))
    .action((name: string, opts: { role: Role }) => {
      const { token: secret, sha256 } = generateToken();
      process.stderr.write(
        "Give this token to the operator (HAVEN_TOKEN or HAVEN_TOKEN_FILE); it is not stored anywhere:\n",
      );
      process.stdout.write(`${secret.reveal()}\n`);
      process.stderr.write(`\nAdd to haven.yaml:\n${operatorConfigSnippet(name, opts.role, sha256)}\n`);
    });
  return token;
}
