/**
 * The email channel: nodemailer over SMTP. TLS per `alerts.email.smtp`: `secure: true` is TLS from the
 * first byte (port 465); otherwise STARTTLS, required when `tls.enabled` (the default when `tls:` is
 * given, so a password never crosses the network in clear), opportunistic when `tls:` is left out, and
 * never with `tls.enabled: false`.
 *
 * A recipient refused at RCPT TO while the server accepts the others (nodemailer then resolves) is not
 * let pass in silence: a 4xx one (greylisting) makes the send TRANSIENT, and `deliver`'s retries of
 * the same notice go to the recipients still owed it only, never again to those who have it; a 5xx
 * one is logged as an error naming the address (the others have the alert, and a retry of the
 * notice would send them it again every few minutes while the address stays wrong).
 */
import { readFile } from "node:fs/promises";
import { createTransport, type Transporter } from "nodemailer";
import type { AlertsConfig } from "../../config/types";
import { HavenError } from "../../lib/errors";
import { silentLogger, type Logger } from "../../lib/logger";
import { scrubSecrets } from "../../lib/secret";
import { isPermanentSmtpError } from "../../lib/smtp-errors";
import { describeRefused, refusedRecipients } from "../../lib/smtp-recipients";
import { renderText, type Notice } from "../message";
import type { AlertChannel } from "./types";

export type EmailConfig = NonNullable<AlertsConfig["email"]>;

export interface EmailChannelOptions {
  /** Connection, greeting and socket timeout. Default 30 s. */
  timeoutMs?: number;
  /** Where recipients the server refused while accepting the others are reported. */
  logger?: Logger;
}

export function createEmailChannel(config: EmailConfig, options: EmailChannelOptions = {}): AlertChannel {
  return new EmailChannel(config, options.timeoutMs ?? 30_000, options.logger ?? silentLogger);
}

class EmailChannel implements AlertChannel {
  readonly name = "email";
  #transport: Promise<Transporter> | undefined;
  /** Per notice, the recipients a server deferred while others got it: a retry goes to them only. */
  readonly #owed = new WeakMap<Notice, string[]>();

  constructor(
    private readonly config: EmailConfig,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  async send(notice: Notice): Promise<void> {
    const { subject, text } = renderText(notice);
    const transport = await this.#transportOnce();
    let info: unknown;
    try {
      info = await transport.sendMail({
        from: this.config.from,
        to: this.#owed.get(notice) ?? this.config.to,
        subject,
        text,
      });
    } catch (error) {
      throw classify(error, this.config);
    }
    const refused = refusedRecipients(info, [this.config.smtp.password]);
    const permanent = refused.filter((r) => r.permanent);
    if (permanent.length > 0) {
      this.logger.error(
        {
          channel: this.name,
          incident: notice.key,
          notice: notice.kind,
          refused: describeRefused(permanent),
        },
        "alert email not delivered to every recipient: the SMTP server refused some; check alerts.email.to",
      );
    }
    const deferred = refused.filter((r) => !r.permanent);
    if (deferred.length === 0) {
      this.#owed.delete(notice);
      return;
    }
    this.#owed.set(
      notice,
      deferred.map((r) => r.address),
    );
    throw new HavenError(
      "TRANSIENT",
      `sending alert email via SMTP server ${this.config.smtp.host}:${this.config.smtp.port}: deferred for ${describeRefused(deferred)} (the other recipients have it)`,
      { hint: "the SMTP server asked to try again later (as greylisting does); delivery is retried" },
    );
  }

  async close(): Promise<void> {
    const transport = this.#transport;
    this.#transport = undefined;
    if (transport) (await transport.catch(() => undefined))?.close();
  }

  #transportOnce(): Promise<Transporter> {
    this.#transport ??= this.#createTransport();
    return this.#transport;
  }

  async #createTransport(): Promise<Transporter> {
    const { smtp } = this.config;
    const tls = smtp.tls;
    let ca: string | undefined;
    if (tls?.ca) {
      try {
        ca = await readFile(tls.ca, "utf8");
      } catch (error) {
        this.#transport = undefined;
        throw new HavenError(
          "PERMANENT",
          `cannot read the SMTP CA bundle ${tls.ca}: ${(error as Error).message}`,
          {
            hint: "fix alerts.email.smtp.tls.ca in the config",
          },
        );
      }
    }
    return createTransport({
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      requireTLS: tls ? tls.enabled && !smtp.secure : false,
      ignoreTLS: tls ? !tls.enabled && !smtp.secure : false,
      tls: { rejectUnauthorized: tls?.rejectUnauthorized ?? true, ...(ca ? { ca } : {}) },
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password?.reveal() ?? "" } } : {}),
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: this.timeoutMs,
      logger: false,
      debug: false,
    });
  }
}

function classify(error: unknown, config: EmailConfig): HavenError {
  const e = error as { message?: unknown; responseCode?: unknown };
  const message = scrubSecrets(typeof e.message === "string" ? e.message : String(error), [
    config.smtp.password,
  ]);
  const where = `SMTP server ${config.smtp.host}:${config.smtp.port}`;
  // A 4xx reply (greylisting) is retried by `deliver`, though nodemailer tags it as a refused envelope.
  const permanent = isPermanentSmtpError(error);
  const hint = permanent
    ? "check alerts.email (smtp user, password, TLS settings, from and to addresses)"
    : typeof e.responseCode === "number"
      ? `the SMTP server answered ${e.responseCode} (try again later, as greylisting does); delivery is retried`
      : "the SMTP server may be down or unreachable; check the network and alerts.email.smtp.host";
  return new HavenError(
    permanent ? "PERMANENT" : "TRANSIENT",
    `sending alert email via ${where} failed: ${message}`,
    {
      hint,
    },
  );
}
