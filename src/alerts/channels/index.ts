import type { AlertsConfig } from "../../config/types";
import { createEmailChannel, type EmailChannelOptions } from "./email";
import { createWebhookChannel } from "./webhook";
import type { AlertChannel } from "./types";

/** Every channel `alerts:` configures: email first, then each webhook in order. */
export function createChannels(
  config: AlertsConfig | undefined,
  options: EmailChannelOptions = {},
): AlertChannel[] {
  if (!config) return [];
  const channels: AlertChannel[] = [];
  if (config.email) channels.push(createEmailChannel(config.email, options));
  config.webhooks.forEach((webhook, index) => channels.push(createWebhookChannel(webhook, { index })));
  return channels;
}

export { createEmailChannel, type EmailConfig, type EmailChannelOptions } from "./email";
export { createWebhookChannel, type WebhookConfig, type WebhookChannelOptions } from "./webhook";
export type { AlertChannel } from "./types";
