import { Command } from "commander";
import { auditDestination, openAudit } from "../../app/audit";
import { AUDIT_TABLE_HEADERS, auditJson, auditTableRows, parseSince, verifyAuditLogs } from "../../audit";
import { HavenError } from "../../lib/errors";
import { authorize } from "../../operators";
import { commandConfig, commandLogger, commandOperator, printJson, printTable } from "../context";
import { outputOption } from "../output-option";

export function auditCommand(): Command {
  const command = new Command("audit")
    .description("list the audit trail (who did what, when, from where, with what outcome)")
    .option(
      "--since <time>",
      "only records since this ISO time (without an offset: in the config's timezone) or this long ago (e.g. 7d)",
    )
    .addOption(outputOption())
    .action(async (opts: { since?: string; output: string }, cmd: Command) => {
      const config = await commandConfig(cmd);
      authorize(await commandOperator(cmd, config), "read");
      const handle = openAudit(config, commandLogger(cmd));
      try {
        const records = await handle.log.list(
          opts.since ? { since: parseSince(opts.since, config.timezone) } : {},
        );
        if (opts.output === "json") printJson(auditJson(auditDestination(config).name, records));
        else if (records.length === 0) process.stdout.write("no audit records\n");
        else printTable([...AUDIT_TABLE_HEADERS], auditTableRows(records));
      } finally {
        await handle.close();
      }
    });
  command
    .command("verify")
    .description("check the hash chain: detects a removed, altered or reordered record")
    .action(async (_opts: unknown, cmd: Command) => {
      const config = await commandConfig(cmd);
      authorize(await commandOperator(cmd, config), "read");
      const handle = openAudit(config, commandLogger(cmd));
      try {
        const { lines, exitCode } = await verifyAuditLogs([
          { destination: auditDestination(config).name, log: handle.log },
        ]);
        process.stdout.write(`${lines.join("\n")}\n`);
        if (exitCode !== 0) {
          throw new HavenError("INTEGRITY", "the audit trail is broken", {
            hint: "someone removed or edited audit records: treat it as a security incident and compare with the bucket's access logs",
            exitCode,
          });
        }
      } finally {
        await handle.close();
      }
    });
  return command;
}
