/**
 * One monthly report run, in phases: collect the month from the bucket, serialise it (the JSON and its
 * sha256 are the evidence), draw the charts, then, when sending, store the JSON under
 * `_reports/<yyyy>-<mm>.json` on the report destination and email it. The JSON is stored before the
 * email goes out, so every report that reached a reader can be checked against the bucket; a retried
 * run stores its own JSON again, matching the email it sends.
 *
 * Without `send` nothing is written to the bucket: a preview (`haven report --month ... --out FILE`)
 * never replaces the evidence of a report that was sent.
 */
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { layout } from "../catalog/layout";
import type { HavenConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { createStorage } from "../storage";
import type { StorageBackend } from "../storage/types";
import { renderCharts, type ChartImage } from "./charts";
import { collectMonth, reportDestination } from "./collect";
import {
  reportRecipients,
  sendReport,
  undeliveredError,
  type ReportMessage,
  type SendReportOptions,
  type SentReport,
} from "./email";
import { emailSubject, type Evidence } from "./format";
import { renderHtml } from "./html";
import { previousMonth, parseMonth } from "./month";
import { renderText } from "./text";
import type { MonthlyReport, ReportIncidentInput } from "./types";

export interface MonthlyReportOptions {
  /** `YYYY-MM`; default: the month before `now`'s, in `config.timezone` (what the scheduled job reports). */
  month?: string;
  /** Store the JSON under `_reports/` and email the report to `reports.monthly.to`. */
  send: boolean;
  /** Also write the HTML to this file, charts embedded as data: URLs so it opens in any browser. */
  out?: string;
}

export interface MonthlyReportContext {
  logger: Logger;
  signal?: AbortSignal;
  /** The clock. Default: now. */
  now?: Date;
  /** Backends for the configured destinations (matched by name); default: created from the config and closed after. */
  storages?: readonly StorageBackend[];
  /** Open incidents from the alert state, when the caller has it. */
  openIncidents?: readonly ReportIncidentInput[];
  /** When the watchdog first saw each target, when the caller has the alert state. */
  firstSeen?: ReadonlyMap<string, Date>;
  /** Delivery retry policy; default 3 attempts, 5 s then 10 s apart. */
  delivery?: Pick<SendReportOptions, "attempts" | "baseDelayMs" | "timeoutMs">;
}

export interface MonthlyReportResult {
  month: string;
  report: MonthlyReport;
  json: { fileName: string; sha256: string; bytes: number };
  /** `<destination location>/_reports/<month>.json` when stored. */
  storedAt: string | null;
  sent: SentReport | null;
  /** The HTML file written, when `out` was given. */
  out: string | null;
}

export async function runMonthlyReport(
  config: HavenConfig,
  options: MonthlyReportOptions,
  ctx: MonthlyReportContext,
): Promise<MonthlyReportResult> {
  const now = ctx.now ?? new Date();
  const month = options.month ?? previousMonth(now, config.timezone);
  parseMonth(month);
  // A config that cannot send fails before the bucket is read.
  if (options.send) reportRecipients(config);

  const owned = ctx.storages
    ? []
    : Object.values(config.destinations).map((d) => createStorage(d, ctx.logger));
  const storages = ctx.storages ?? owned;
  try {
    const report = await collectMonth(config, month, storages, now, {
      ...(ctx.openIncidents ? { openIncidents: ctx.openIncidents } : {}),
      ...(ctx.firstSeen ? { firstSeen: ctx.firstSeen } : {}),
    });
    const json = serialiseReport(report);
    const fileName = `haven-report-${report.period.month}.json`;
    const charts = await renderCharts(report, ctx.logger);

    let storedAt: string | null = null;
    if (options.send) {
      const destination = reportDestination(config);
      const storage = storages.find((s) => s.name === destination);
      if (!storage) {
        throw new HavenError("PERMANENT", `no storage backend was given for destination ${destination}`, {
          hint: "pass a backend for every configured destination",
        });
      }
      const key = layout.report(report.period.month);
      await storage.put(key, Readable.from([json.bytes]), {
        contentType: "application/json",
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      storedAt = `${storage.location.replace(/\/+$/, "")}/${key}`;
      ctx.logger.info({ month: report.period.month, key, sha256: json.sha256 }, "monthly report stored");
    }

    const evidence: Evidence = { sha256: json.sha256, jsonFileName: fileName, storedAt };
    if (options.out) {
      await writeFile(options.out, standaloneHtml(report, evidence, charts));
    }

    let sent: SentReport | null = null;
    if (options.send) {
      sent = await sendReport(config, composeMessage(report, evidence, charts, json.bytes), {
        ...ctx.delivery,
        logger: ctx.logger,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
      ctx.logger.info(
        { month: report.period.month, to: sent.to, attempts: sent.attempts },
        "monthly report sent",
      );
      const undelivered = undeliveredError(sent, report.period.month);
      if (undelivered)
        ctx.logger.error(
          { err: undelivered.message, hint: undelivered.hint },
          "monthly report not delivered to everyone",
        );
    }
    return {
      month: report.period.month,
      report,
      json: { fileName, sha256: json.sha256, bytes: json.bytes.length },
      storedAt,
      sent,
      out: options.out ?? null,
    };
  } finally {
    await Promise.all(owned.map((s) => s.close()));
  }
}

/** The report's JSON bytes (the attachment and the stored object) and their sha256. */
export function serialiseReport(report: MonthlyReport): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.from(`${JSON.stringify(report, null, 2)}\n`, "utf8");
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** The email: HTML with cid images, the text alternative, the charts inline and the JSON attached. */
export function composeMessage(
  report: MonthlyReport,
  evidence: Evidence,
  charts: readonly ChartImage[],
  json: Buffer,
): ReportMessage {
  return {
    subject: emailSubject(report),
    html: renderHtml({ report, evidence, charts }),
    text: renderText({ report, evidence, charts }),
    attachments: [
      ...charts.map((c) => ({ filename: c.fileName, content: c.png, contentType: "image/png", cid: c.cid })),
      { filename: evidence.jsonFileName, content: json, contentType: "application/json" },
    ],
  };
}

/** The HTML body with every chart embedded as a data: URL, for a file opened outside a mail client. */
export function standaloneHtml(
  report: MonthlyReport,
  evidence: Evidence,
  charts: readonly ChartImage[],
): string {
  const byCid = new Map(charts.map((c) => [c.cid, c]));
  return renderHtml({
    report,
    evidence,
    charts,
    imageSrc: (c) => `data:image/png;base64,${byCid.get(c.cid)?.png.toString("base64") ?? ""}`,
  });
}
