import { Command, Option } from "commander";
import { formatDuration } from "../../lib/duration";
import { ExitCode, HavenError } from "../../lib/errors";
import { statusExitCode } from "../../slo";
import { commandConfig, commandLogger, printJson, printTable } from "../context";

export function statusCommand(): Command {
  return new Command("status")
    .description(
      "RPO and RTO compliance per target, read from the destinations (exit 3 when anything is breached)",
    )
    .addOption(
      new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table"),
    )
    .action(async (opts: { output: string }, command: Command) => {
      const config = await commandConfig(command);
      const { evaluateTargets } = await import("../../app/monitoring");
      const { evaluations, unreachable } = await evaluateTargets(config, commandLogger(command));
      const rows = evaluations.map((e) => ({
        target: e.target,
        status: e.status,
        newestSnapshot: e.newestSnapshot?.id ?? null,
        newestAgeMs: e.rpo.newestAgeMs,
        rpoMs: e.rpo.rpoMs,
        rpo: e.rpo.status,
        missedSchedules: e.rpo.missedSchedules.length,
        missedVerifications: e.missedVerifications.length,
        lastVerification: e.lastVerification
          ? {
              kind: e.lastVerification.kind,
              result: e.lastVerification.result,
              at: e.lastVerification.finishedAt,
            }
          : null,
        lastRestoreMs: e.rto.lastMs,
        forecastRestoreMs: e.rto.forecastMs,
        rtoMs: e.rto.rtoMs,
        rto: e.rto.status,
        reasons: e.reasons,
      }));
      if (opts.output === "json") printJson({ targets: rows, unreachable });
      else {
        const ms = (v: number | null) => (v === null ? "-" : formatDuration(v));
        printTable(
          ["TARGET", "STATUS", "NEWEST", "AGE", "RPO", "LAST CHECK", "RESTORE", "RTO", ""],
          rows.map((r) => [
            r.target,
            r.status,
            r.newestSnapshot ?? "none",
            ms(r.newestAgeMs),
            `${formatDuration(r.rpoMs)} ${r.rpo}`,
            r.lastVerification ? `${r.lastVerification.kind} ${r.lastVerification.result}` : "never",
            ms(r.lastRestoreMs),
            `${formatDuration(r.rtoMs)} ${r.rto}`,
            r.reasons.join("; "),
          ]),
        );
        for (const u of unreachable)
          process.stdout.write(`unreachable: ${u.target} on ${u.destination}: ${u.error}\n`);
      }
      const code = Math.max(statusExitCode(evaluations), unreachable.length > 0 ? ExitCode.FAILED : 0);
      if (code !== 0) {
        throw new HavenError(
          code === ExitCode.BREACH_OR_PARTIAL ? "PARTIAL" : "TRANSIENT",
          "not every target meets its RPO and RTO",
          {
            hint: "see the reasons column; haven doctor checks targets and destinations",
            exitCode: code,
          },
        );
      }
    });
}
