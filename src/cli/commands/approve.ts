import { Command } from "commander";
import { describeTerms, RestoreApprovals, termsOfRequest } from "../../operators";
import { openCommandAudit } from "../audit-lock";
import { commandConfig, commandLogger, commandOperator, printJson } from "../context";
import { outputOption } from "../output-option";

export function approveCommand(): Command {
  return new Command("approve")
    .description("approve another operator's restore request over a protected target (admins)")
    .argument("<request-id>", "the id printed by `haven restore ... --request`")
    .addOption(outputOption())
    .action(async (requestId: string, opts: { output: string }, command: Command) => {
      const config = await commandConfig(command);
      const logger = commandLogger(command);
      const operator = await commandOperator(command, config);
      const handle = await openCommandAudit(config, logger);
      try {
        const request = await new RestoreApprovals(handle.storage, handle.log, {
          logger,
          ...handle.approvalLock,
        }).approve(requestId, operator);
        if (opts.output === "json") printJson(request);
        else
          process.stdout.write(
            `approved ${request.id}: restore of ${describeTerms(request.approval?.approves ?? termsOfRequest(request))} ` +
              `requested by ${request.requestedBy.name}; it can now run with --request-id ${request.id}\n`,
          );
      } finally {
        await handle.close();
      }
    });
}
