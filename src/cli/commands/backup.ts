import { Command, Option } from "commander";
import type { Tier } from "../../config/types";
import { runBackup } from "../../engine/backup";
import type { BackupResult } from "../../engine/types";
import { ExitCode, HavenError } from "../../lib/errors";
import { audit } from "../../app/audit";
import { auditLockOptions } from "../audit-lock";
import { authorize, operatorActor } from "../../operators";
import { commandConfig, commandLogger, commandOperator, interruptSignal, printJson } from "../context";
import { outputOption } from "../output-option";
import { createProgress, formatBytes } from "../progress";
import { withDirectBackupLock } from "./direct-lock";

export function backupCommand(): Command {
  return new Command("backup")
    .description(
      "back up a target now: queued for the workers and followed until done (--direct: in this process)",
    )
    .argument("<target>", "target name from the config")
    .option(
      "--direct",
      "run in this process, without workers (takes the target lock when Redis answers, runs without it when not)",
    )
    .addOption(
      new Option("--tier <tier>", "why the snapshot is taken")
        .choices(["daily", "weekly", "monthly", "manual"])
        .default("manual"),
    )
    .addOption(outputOption())
    .action(
      async (target: string, opts: { direct?: boolean; tier: Tier; output: string }, command: Command) => {
        const config = await commandConfig(command);
        const logger = commandLogger(command);
        const operator = await commandOperator(command, config);
        authorize(operator, "backup", target);
        const signal = interruptSignal();
        const request = { target, tier: opts.tier, requestedBy: `cli:${operator.name}` };
        const progress = createProgress(`backup ${target}`);
        let result: BackupResult;
        try {
          result = opts.direct
            ? await withDirectBackupLock(config, target, logger, (lockSignal) =>
                runBackup(config, request, {
                  logger,
                  signal: lockSignal ? AbortSignal.any([signal, lockSignal]) : signal,
                  onProgress: (e) => progress.update(e),
                }),
              )
            : await (
                await import("./queued")
              ).runQueuedBackup(config, request, {
                logger,
                signal,
                onProgress: (e) => progress.update(e),
              });
        } finally {
          progress.stop();
        }
        await audit(
          config,
          logger,
          {
            action: "backup",
            outcome: result.state === "failed" ? "failed" : result.state === "skipped" ? "refused" : "ok",
            actor: operatorActor(operator),
            target,
            ...(result.snapshotId ? { snapshot: result.snapshotId } : {}),
            detail: {
              state: result.state,
              queued: !opts.direct,
              ...(result.error ? { error: result.error.message } : {}),
            },
          },
          await auditLockOptions(config, logger),
        );
        reportBackup(result, opts.output);
      },
    );
}

/** Prints the outcome and turns it into the CLI's exit code (DESIGN.md). */
export function reportBackup(result: BackupResult, output: string): void {
  if (output === "json") printJson(result);
  else if (result.state === "committed" || result.state === "partial") {
    process.stdout.write(
      `${result.state} ${result.target} snapshot ${result.snapshotId} on ${result.destinations.join(", ")}: ` +
        `${formatBytes(result.plainBytes ?? 0)} read, ${formatBytes(result.storedBytes ?? 0)} stored\n`,
    );
    for (const warning of result.warnings) process.stdout.write(`warning: ${warning}\n`);
  } else if (result.state === "skipped") {
    process.stdout.write(`skipped ${result.target}: another backup of it is running\n`);
  }
  switch (result.state) {
    case "committed":
      return;
    case "partial":
      throw new HavenError(
        "PARTIAL",
        `backup of ${result.target} is partial: ${result.warnings.length} warnings`,
        {
          hint: "the snapshot is usable; each warning names what it lacks or holds as it changed while being read",
        },
      );
    case "skipped":
      throw new HavenError("LOCKED", `backup of ${result.target} skipped: another run holds its lock`, {
        hint: "wait for the running backup to finish (haven status)",
        exitCode: ExitCode.LOCKED,
      });
    default:
      throw new HavenError(
        (result.error?.code as HavenError["code"] | undefined) ?? "PERMANENT",
        `backup of ${result.target} failed: ${result.error?.message ?? "unknown error"}`,
        { hint: result.error?.hint, exitCode: failedBackupExitCode(result.error?.code) },
      );
  }
}

/**
 * DESIGN.md's exit codes for a failed run: 130 cancelled, 12 credentials refused (a bucket's
 * AccessDenied, a key file not readable), which a script tells apart from any other failure (1).
 * Not the error code's own mapping: a backup's NOT_FOUND (a missing object) is no "no such snapshot".
 */
function failedBackupExitCode(code: string | undefined): number {
  if (code === "CANCELLED") return ExitCode.CANCELLED;
  if (code === "CREDENTIALS") return ExitCode.DECRYPT_OR_CREDENTIALS;
  return ExitCode.FAILED;
}
