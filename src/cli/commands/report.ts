/**
 * `haven report [--month YYYY-MM] [--out FILE] [--send] [-o text|json]`: the monthly restore-test
 * report of a month, made from the bucket, with the alert state from Redis when it answers (as the
 * scheduled report: see report-alert-state.ts). Without --send it is a preview: printed, optionally
 * written as HTML, nothing stored or sent. With --send the JSON is stored under
 * `_reports/<yyyy>-<mm>.json` and the report is emailed to `reports.monthly.to`.
 * Exit codes: 0 done (an empty month included); 2 a bad --month or config; 1 sending failed, or the
 * SMTP server refused some recipients (the others have the report).
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Command, Option } from "commander";
import { HavenError } from "../../lib/errors";
import { formatLocal } from "../../report/month";
import type { MonthlyReportResult } from "../../report";
import { parseMonth } from "../../report/month";
import { VERDICT_LABEL, emptyNotice, reportTitle, summaryRows } from "../../report/format";
import { authorize } from "../../operators";
import { commandConfig, commandLogger, commandOperator, interruptSignal, printJson } from "../context";

interface ReportCommandOptions {
  month?: string;
  out?: string;
  send?: boolean;
  output: "text" | "json";
}

export function reportCommand(): Command {
  return new Command("report")
    .description(
      "the monthly restore-test report of a month, from the bucket alone; --send stores and emails it",
    )
    .option(
      "--month <YYYY-MM>",
      "the month to report on, in the config's timezone (default: the previous month)",
    )
    .option("--out <file>", "also write the report as an HTML file (charts embedded)")
    .option("--send", "store the JSON under _reports/ and email the report to reports.monthly.to")
    .addOption(new Option("-o, --output <format>", "what to print").choices(["text", "json"]).default("text"))
    .action(async (opts: ReportCommandOptions, command: Command) => {
      // A bad month or --out is a usage error (exit 2) before anything is read, stored or sent.
      if (opts.month !== undefined) parseMonth(opts.month);
      if (opts.out !== undefined) await assertWritableFile(opts.out);
      const config = await commandConfig(command);
      // Sending writes under _reports/ and emails the readers: more than reading the report.
      authorize(await commandOperator(command, config), opts.send ? "send-report" : "read");
      const logger = commandLogger(command);
      // Loaded on use: the chart renderer (vega, resvg) costs a quarter second at every CLI start otherwise.
      const { runMonthlyReport } = await import("../../report/run");
      const { undeliveredError } = await import("../../report/email");
      const { openReportAlertState } = await import("./report-alert-state");
      const alertState = await openReportAlertState(config, logger);
      let result: MonthlyReportResult;
      let undelivered: Error | null;
      try {
        result = await runMonthlyReport(
          config,
          {
            send: opts.send ?? false,
            ...(opts.month ? { month: opts.month } : {}),
            ...(opts.out ? { out: opts.out } : {}),
          },
          { logger, signal: interruptSignal(), ...alertState.context },
        );
        undelivered = result.sent ? undeliveredError(result.sent, result.month) : null;
        if (result.sent && !undelivered) await alertState.delivered(result.month);
      } finally {
        await alertState.close();
      }
      if (opts.output === "json") printJson(result.report);
      else process.stdout.write(describeResult(result));
      // Exit 1 and say who does not have it: the readers the server refused are not "sent to".
      if (undelivered) throw undelivered;
    });
}

function describeResult(result: MonthlyReportResult): string {
  const { report } = result;
  const lines = [
    `${reportTitle(report)} (from ${formatLocal(report.period.start, report.period.timezone)}, ${report.period.timezone})`,
  ];
  if (report.empty) lines.push(emptyNotice(report));
  const width = Math.max(0, ...report.targets.map((t) => t.target.length));
  for (const t of report.targets) {
    lines.push(
      `  ${t.target.padEnd(width)}  ${VERDICT_LABEL[t.verdict]}${t.reasons.length > 0 ? `  ${t.reasons.join("; ")}` : ""}`,
    );
  }
  for (const [label, value] of summaryRows(report)) lines.push(`${label}: ${value}`);
  lines.push(`sha256 of the JSON: ${result.json.sha256}`);
  if (result.out) lines.push(`HTML written to ${result.out}`);
  if (result.storedAt) lines.push(`stored at ${result.storedAt}`);
  if (result.sent) lines.push(`sent to ${result.sent.to.join(", ")}`);
  else
    lines.push("not sent: add --send to store the JSON under _reports/ and email it to reports.monthly.to");
  return `${lines.join("\n")}\n`;
}

/**
 * `--out` must be a file this process can write. Found only after the whole bucket was read, and with
 * --send after the report was stored, a bad path failed the command before the email went out.
 */
async function assertWritableFile(path: string): Promise<void> {
  const file = resolve(path);
  const refuse = (why: string) =>
    new HavenError("USAGE", `--out ${path}: ${why}`, {
      hint: "give --out a file path in a folder that exists and that you may write to",
    });
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw refuse("is a folder");
  try {
    await access(existing ? file : dirname(file), constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw refuse(code === "ENOENT" ? `folder ${dirname(file)} does not exist` : `not writable (${code})`);
  }
}
