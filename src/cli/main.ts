#!/usr/bin/env node
// The SDK warns on every run that its 2027 releases need Node 22; we pin it in the lock file and the
// Docker image runs Node 22, so operators need not read that on each command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { Command, CommanderError, Option } from "commander";
import { describeError, ExitCode, HavenError } from "../lib/errors";
import { havenVersion } from "../lib/version";
import { closeAuditLock } from "./audit-lock";
import { LOG_LEVELS } from "./context";
import { backupCommand } from "./commands/backup";
import { configCommand } from "./commands/config";
import { doctorCommand } from "./commands/doctor";
import { statusCommand } from "./commands/status";
import { keysCommand } from "./commands/keys";
import { approveCommand } from "./commands/approve";
import { auditCommand } from "./commands/audit";
import { tokenCommand } from "./commands/token";
import { pruneCommand } from "./commands/prune";
import { reportCommand } from "./commands/report";
import { planCommand } from "./commands/plan";
import { serveCommand, workerCommand } from "./commands/serve";
import { verifyCommand } from "./commands/verify";
import { restoreCommand } from "./commands/restore";
import { snapshotsCommand } from "./commands/snapshots";

export function buildProgram(): Command {
  const program = new Command("haven")
    .description("Backups you have restored: scheduled, streamed to S3, verified, with enforced RPO and RTO")
    .version(havenVersion)
    .option("-c, --config <file>", "config file (default: $HAVEN_CONFIG, else ./haven.yaml)")
    .option(
      "--as <operator>",
      "act as this operator (with HAVEN_TOKEN or HAVEN_TOKEN_FILE when it has a token)",
    )
    .addOption(
      new Option(
        "--log-level <level>",
        "what to log on stderr (default: $HAVEN_LOG_LEVEL, else warn; info for serve and worker)",
      ).choices(LOG_LEVELS),
    )
    .showHelpAfterError();
  for (const command of [
    serveCommand(),
    workerCommand(),
    configCommand(),
    planCommand(),
    backupCommand(),
    snapshotsCommand(),
    restoreCommand(),
    verifyCommand(),
    doctorCommand(),
    statusCommand(),
    reportCommand(),
    keysCommand(),
    approveCommand(),
    auditCommand(),
    tokenCommand(),
    pruneCommand(),
  ]) {
    program.addCommand(command);
  }
  exitThroughMain(program);
  return program;
}

/**
 * Commander exits the process itself (code 1) on a usage error unless the command has an exit
 * override, and a command added with `addCommand` inherits none, nor do the subcommands its own
 * module declared (`config validate`, `keys check`, `audit verify`, `token new`). Every command in
 * the tree throws instead, so `main` maps a usage error to exit 2 as the contract says.
 */
function exitThroughMain(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) exitThroughMain(sub);
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return ExitCode.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit through here with code 0; usage errors were printed by commander.
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    process.stderr.write(`haven: ${describeError(error)}\n`);
    return error instanceof HavenError ? error.exitCode : ExitCode.FAILED;
  } finally {
    await closeAuditLock();
  }
}

if (require.main === module) {
  // `haven snapshots | head`: the reader left; the rest of the output has nowhere to go.
  // The command still finishes (its audit record, its exit code); only its output goes nowhere.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.stdout.write = () => true;
  });
  void main(process.argv).then((code) => {
    process.exitCode = code;
    // A stray handle (a socket a library keeps) must not keep a finished command alive.
    setTimeout(() => process.exit(code), 1500).unref();
  });
}
