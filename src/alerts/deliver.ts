/**
 * Sends a notice to every channel, retrying transient failures with exponential backoff. Never throws:
 * an alert that cannot be delivered is logged (without secrets) and reported, and the job that raised
 * it carries on.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { isHavenError } from "../lib/errors";
import { silentLogger, type Logger } from "../lib/logger";
import type { AlertChannel } from "./channels/types";
import type { Notice } from "./message";

export interface DeliveryOptions {
  /** Tries per channel, the first included. Default 4. */
  attempts?: number;
  /** Delay before the first retry, doubled for each further one. Default 1 s. */
  baseDelayMs?: number;
  /** Upper bound of one delay. Default 30 s. */
  maxDelayMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface DeliveryReport {
  channel: string;
  ok: boolean;
  attempts: number;
  /** The last error's message (never holds a secret). */
  error?: string;
}

export async function deliver(
  channels: readonly AlertChannel[],
  notice: Notice,
  options: DeliveryOptions = {},
): Promise<DeliveryReport[]> {
  return Promise.all(channels.map((channel) => deliverOne(channel, notice, options)));
}

async function deliverOne(
  channel: AlertChannel,
  notice: Notice,
  options: DeliveryOptions,
): Promise<DeliveryReport> {
  const attempts = Math.max(1, options.attempts ?? 4);
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const logger = options.logger ?? silentLogger;
  const context = { channel: channel.name, incident: notice.key, notice: notice.kind };

  let lastError = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await channel.send(notice, options.signal);
      if (attempt > 1) logger.info({ ...context, attempt }, "alert delivered after retry");
      return { channel: channel.name, ok: true, attempts: attempt };
    } catch (error) {
      // Channels put no secret in their messages; only the message is logged, never the error object.
      lastError = error instanceof Error ? error.message : String(error);
      const permanent = isHavenError(error, "PERMANENT");
      if (permanent || attempt === attempts || options.signal?.aborted) {
        logger.error(
          {
            ...context,
            attempt,
            err: lastError,
            ...(isHavenError(error) && error.hint ? { hint: error.hint } : {}),
          },
          "alert delivery failed; giving up",
        );
        return { channel: channel.name, ok: false, attempts: attempt, error: lastError };
      }
      const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      logger.warn({ ...context, attempt, delayMs, err: lastError }, "alert delivery failed; retrying");
      try {
        await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined);
      } catch {
        return { channel: channel.name, ok: false, attempts: attempt, error: lastError };
      }
    }
  }
  return { channel: channel.name, ok: false, attempts, error: lastError };
}
