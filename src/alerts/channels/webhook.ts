/**
 * The webhook channel: one JSON POST per notice. `format: json` posts `renderJson`; `format: slack`
 * posts a Slack incoming-webhook payload (`{text, blocks}`). The URL is a Secret (it often embeds a
 * token): only its host ever appears in names and messages. Credentials in it
 * (`https://user:password@host/hook`, a receiver behind basic auth) go as an `Authorization: Basic`
 * header: fetch refuses a URL that holds them, so such a webhook used to fail every notice.
 */
import type { AlertsConfig } from "../../config/types";
import { HavenError } from "../../lib/errors";
import { decodeUrlPart, scrubSecrets, type Secret } from "../../lib/secret";
import { renderJson, renderSlack, type Notice } from "../message";
import type { AlertChannel } from "./types";

export type WebhookConfig = AlertsConfig["webhooks"][number];

export interface WebhookChannelOptions {
  /** Position in `alerts.webhooks`, for the channel's name. */
  index: number;
  /** Per request. Default 15 s. */
  timeoutMs?: number;
}

export function createWebhookChannel(config: WebhookConfig, options: WebhookChannelOptions): AlertChannel {
  return new WebhookChannel(config.url, config.format, options.index, options.timeoutMs ?? 15_000);
}

class WebhookChannel implements AlertChannel {
  readonly name: string;
  readonly #url: URL | null;
  /** `Basic ...` from the URL's user and password, when it has them. */
  readonly #authorization: string | null;

  constructor(
    private readonly url: Secret,
    private readonly format: WebhookConfig["format"],
    index: number,
    private readonly timeoutMs: number,
  ) {
    const parsed = parseUrl(url);
    this.#authorization = parsed ? basicAuthorization(parsed) : null;
    if (parsed) {
      parsed.username = "";
      parsed.password = "";
    }
    this.#url = parsed;
    this.name = `webhook #${index + 1} (${this.#url?.host ?? "invalid URL"})`;
  }

  async send(notice: Notice, signal?: AbortSignal): Promise<void> {
    if (!this.#url) {
      throw new HavenError("PERMANENT", `${this.name}: the URL is not a valid http(s) URL`, {
        hint: "fix alerts.webhooks[].url in the config",
      });
    }
    const body = JSON.stringify(this.format === "slack" ? renderSlack(notice) : renderJson(notice));
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "haven",
          ...(this.#authorization ? { authorization: this.#authorization } : {}),
        },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: unknown } }).cause;
      const reason = typeof cause?.message === "string" ? cause.message : (error as Error).message;
      throw new HavenError("TRANSIENT", `${this.name}: request failed: ${scrubSecrets(reason, [this.url])}`, {
        hint: "check that the webhook receiver is reachable from this host",
      });
    }
    // Drain the answer so the connection can be reused; its content is not needed.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return;
    const transient = response.status === 408 || response.status === 429 || response.status >= 500;
    throw new HavenError(
      transient ? "TRANSIENT" : "PERMANENT",
      `${this.name} answered HTTP ${response.status}`,
      {
        hint: transient
          ? "the receiver is failing or throttling; delivery is retried"
          : "the receiver refused the request: check alerts.webhooks[].url and format",
      },
    );
  }

  async close(): Promise<void> {
    // fetch keeps no per-channel resources.
  }
}

function parseUrl(url: Secret): URL | null {
  try {
    const parsed = new URL(url.reveal());
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed : null;
  } catch {
    // URL's own error quotes the input, which is a secret: swallow it.
    return null;
  }
}

/** The URL's credentials as a basic-auth header value (percent-decoded, as a browser sends them). */
function basicAuthorization(url: URL): string | null {
  if (!url.username && !url.password) return null;
  const credentials = `${decodeUrlPart(url.username)}:${decodeUrlPart(url.password)}`;
  return `Basic ${Buffer.from(credentials, "utf8").toString("base64")}`;
}
