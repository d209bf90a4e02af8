/**
 * The email channel: nodemailer over SMTP. TLS per `alerts.email.smtp`: `secure: true` is TLS from the
 * first byte (port 465); otherwise STARTTLS, required when `tls.enabled` (the default when `tls:` is
 * given, so a password never crosses the network in clear), opportunistic when `tls:` is left out, and
 * never with `tls.enabled: false`.
 *
 * A recipient refused at RCPT TO while the server accepts the others (nodemailer then resolves) is not
 * let pass in silence: a 4xx one (greylisting) is sent the notice again, alone, a few times with
 * backoff; one refused for good (5xx), or still deferred after that, is logged as an error naming
 * the address. The send still counts as delivered: the others have the alert, and a retry of the
 * whole notice (by `deliver`, or by every pass while the address stays wrong) would send it to them
 * again and again.
 */
import { readFile } from "node:fs/promises";
import { createTransport, type Transporter } from "nodemailer";
import type { AlertsConfig } from "../../config/types";
import { HavenError } from "../../lib/errors";
import { silentLogger, type Logger } from "../../lib/logger";
import { scrubSecrets } from "../../lib/secret";
import { isPermanentSmtpError } from "../../lib/smtp-errors";
import { describeRefused, sendWithResends } from "../../lib/smtp-recipients";
import { renderText, type Notice } from "../message";
import type { AlertChannel } from "./types";

export type EmailConfig = NonNullable<AlertsConfig["email"]>;

export interface EmailChannelOptions {
  /** Connection, greeting and socket timeout. Default 30 s. */
  timeoutMs?: number;
  /** Where recipients the server refused while accepting the others are reported. */
  logger?: Logger;
  /** Sends in all to a recipient deferred (4xx) while the others accepted. Default 3. */
  deferredAttempts?: number;
  /** Wait before sending again to deferred recipients, doubled each time. Default 2 s. */
  deferredDelayMs?: number;
}

export function createEmailChannel(config: EmailConfig, options: EmailChannelOptions = {}): AlertChannel {
  return new EmailChannel(
    config,
    options.timeoutMs ?? 30_000,
    options.logger ?? silentLogger,
    options.deferredAttempts ?? 3,
    options.deferredDelayMs ?? 2_000,
  );
}

class EmailChannel implements AlertChannel {
  readonly name = "email";
  #transport: Promise<Transporter> | undefined;

  constructor(
    private readonly config: EmailConfig,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly deferredAttempts: number,
    private readonly deferredDelayMs: number,
  ) {}

  async send(notice: Notice, signal?: AbortSignal): Promise<void> {
    const { subject, text } = renderText(notice);
    const transport = await this.#transportOnce();
    const secrets = [this.config.smtp.password];
    const { refused: undelivered } = await sendWithResends(
      (to) => transport.sendMail({ from: this.config.from, to, subject, text }),
      this.config.to,
      {
        attempts: this.deferredAttempts,
        delayMs: this.deferredDelayMs,
        secrets,
        ...(signal ? { signal } : {}),
        describe: (error) => classify(error, this.config).message,
        // Nobody has it yet: the send failed as a whole, and `deliver` retries it.
        failedWhole: (error) => {
          throw classify(error, this.config);
        },
      },
    );
    if (undelivered.length > 0) {
      this.logger.error(
        {
          channel: this.name,
          incident: notice.key,
          notice: notice.kind,
          refused: describeRefused(undelivered),
        },
        "alert email not delivered to every recipient: the SMTP server refused some; check alerts.email.to",
      );
    }
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
