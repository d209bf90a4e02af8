/**
 * Delivery of the report: one MIME message (HTML body, plain-text alternative, charts inline by cid,
 * the JSON attached) sent with nodemailer over the SMTP server of `alerts.email.smtp`, from
 * `alerts.email.from` to `reports.monthly.to`.
 *
 * TLS follows the alert channel's rules (src/alerts/channels/email.ts): `secure: true` is TLS from
 * the first byte; otherwise STARTTLS, required when `tls.enabled` (so the password never crosses the
 * network in clear), opportunistic when `tls:` is left out, never with `tls.enabled: false`.
 *
 * Failures: a 5xx answer or a refused login fails the same way again, so it is thrown at once as
 * PERMANENT; anything else (connection refused, timeout, 4xx) is retried with exponential backoff and,
 * when the attempts are used up, thrown as TRANSIENT so the report job is retried and alerted on.
 */
import { readFile } from "node:fs/promises";
import { createTransport } from "nodemailer";
import type SMTPTransport from "nodemailer/lib/smtp-transport";
import type { HavenConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import { silentLogger, type Logger } from "../lib/logger";
import { scrubSecrets } from "../lib/secret";
import { isPermanentSmtpError } from "../lib/smtp-errors";
import { describeRefused, sendWithResends, type RefusedRecipient } from "../lib/smtp-recipients";

export interface ReportAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
  /** Set for inline images referenced as `cid:<cid>` from the HTML. */
  cid?: string;
}

export interface ReportMessage {
  subject: string;
  html: string;
  text: string;
  attachments: ReportAttachment[];
}

export interface SendReportOptions {
  /** Tries in all, the first included. Default 3. */
  attempts?: number;
  /** Wait before the first retry, doubled for each further one. Default 5 s. */
  baseDelayMs?: number;
  /** Connection, greeting and socket timeout. Default 30 s. */
  timeoutMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface SentReport {
  messageId: string;
  /** The recipients the SMTP server accepted the report for. */
  to: string[];
  /**
   * The recipients it refused while accepting it for others (a 5xx, or a 4xx still given after the
   * last attempt): they do not have the report. Empty when everyone got it.
   */
  refused: RefusedRecipient[];
  attempts: number;
}

/**
 * The report reached some readers but the SMTP server refused it for others: the error that says so,
 * or null when everyone got it. Returned, not thrown, by `sendReport`: sending the whole report again
 * would reach twice the readers who have it.
 */
export function undeliveredError(sent: SentReport, month: string): HavenError | null {
  if (sent.refused.length === 0) return null;
  return new HavenError(
    "PERMANENT",
    `the monthly report of ${month} was sent to ${sent.to.join(", ")} but not delivered to ${describeRefused(sent.refused)}`,
    {
      hint: `fix reports.monthly.to (or the mailbox), then run haven report --send --month ${month} (everyone gets it again)`,
    },
  );
}

/** Where the report goes, from the config; a CONFIG error says which key is missing. */
export function reportRecipients(config: HavenConfig): { from: string; to: string[]; smtp: SmtpConfig } {
  const to = config.reports?.monthly?.to;
  if (!to || to.length === 0) {
    throw new HavenError("CONFIG", "no recipients for the monthly report", {
      hint: "set reports.monthly.to in haven.yaml (a list of addresses)",
    });
  }
  const email = config.alerts?.email;
  if (!email) {
    throw new HavenError("CONFIG", "no SMTP server to send the monthly report through", {
      hint: "set alerts.email (smtp host, port, user, passwordFile, and from) in haven.yaml",
    });
  }
  return { from: email.from, to, smtp: email.smtp };
}

type SmtpConfig = NonNullable<NonNullable<HavenConfig["alerts"]>["email"]>["smtp"];

export async function sendReport(
  config: HavenConfig,
  message: ReportMessage,
  options: SendReportOptions = {},
): Promise<SentReport> {
  const { from, to, smtp } = reportRecipients(config);
  const attempts = Math.max(1, options.attempts ?? 3);
  const baseDelayMs = options.baseDelayMs ?? 5000;
  const logger = options.logger ?? silentLogger;
  const transport = createTransport(await transportOptions(smtp, options.timeoutMs ?? 30_000));
  const where = `SMTP server ${smtp.host}:${smtp.port}`;
  const secrets = [smtp.password];
  try {
    const sent = await sendWithResends(
      (pending) =>
        transport.sendMail({
          from,
          to: pending,
          subject: message.subject,
          text: message.text,
          html: message.html,
          attachments: message.attachments.map((a) => ({
            filename: a.filename,
            content: a.content,
            contentType: a.contentType,
            ...(a.cid ? { cid: a.cid, contentDisposition: "inline" as const } : {}),
          })),
        }),
      to,
      {
        attempts,
        delayMs: baseDelayMs,
        secrets,
        ...(options.signal ? { signal: options.signal } : {}),
        describe: (error) => scrubSecrets(error instanceof Error ? error.message : String(error), secrets),
        // Nobody has the report yet: the send failed as a whole.
        failedWhole: (error, attempt, reason) => {
          if (isPermanentSmtpError(error)) {
            throw new HavenError("PERMANENT", `sending the monthly report via ${where} failed: ${reason}`, {
              hint: "check alerts.email (smtp user, password, TLS settings, from) and reports.monthly.to",
            });
          }
          if (attempt >= attempts || options.signal?.aborted) {
            throw new HavenError(
              "TRANSIENT",
              `sending the monthly report via ${where} failed ${attempt} time(s): ${reason}`,
              {
                hint: "the SMTP server may be down or unreachable; the report job retries, or run haven report --send",
              },
            );
          }
        },
        onResend: (deferred, attempt, delayMs) =>
          logger.warn(
            { attempt, delayMs, err: describeRefused(deferred) },
            "sending the monthly report failed; retrying",
          ),
      },
    );
    if (sent.cancelled) throw new HavenError("CANCELLED", "sending the monthly report was cancelled");
    if (sent.attempts > 1 && sent.refused.length === 0) {
      logger.info({ attempt: sent.attempts }, "monthly report sent after retry");
    }
    return { messageId: sent.messageId, to: sent.delivered, refused: sent.refused, attempts: sent.attempts };
  } finally {
    transport.close();
  }
}

async function transportOptions(smtp: SmtpConfig, timeoutMs: number): Promise<SMTPTransport.Options> {
  const tls = smtp.tls;
  let ca: string | undefined;
  if (tls?.ca) {
    try {
      ca = await readFile(tls.ca, "utf8");
    } catch (error) {
      throw new HavenError(
        "CONFIG",
        `cannot read the SMTP CA bundle ${tls.ca}: ${(error as Error).message}`,
        {
          hint: "fix alerts.email.smtp.tls.ca in haven.yaml",
        },
      );
    }
  }
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    requireTLS: tls ? tls.enabled && !smtp.secure : false,
    ignoreTLS: tls ? !tls.enabled && !smtp.secure : false,
    tls: { rejectUnauthorized: tls?.rejectUnauthorized ?? true, ...(ca ? { ca } : {}) },
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password?.reveal() ?? "" } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    logger: false,
    debug: false,
  };
}
