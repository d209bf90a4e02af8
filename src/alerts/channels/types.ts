import type { Notice } from "../message";

/**
 * Where notices go. Contract:
 * - send: delivers one notice, once. Rejects with HavenError PERMANENT when a retry cannot help (the
 *   receiver refused the message or the credentials), TRANSIENT otherwise. Error messages never hold a
 *   secret (SMTP password, webhook URL path or query). Retries are the caller's job (see `deliver`).
 * - close: releases sockets; idempotent.
 */
export interface AlertChannel {
  /** For logs and reports; never holds a secret ("email", "webhook #1 (hooks.example.com)"). */
  readonly name: string;
  send(notice: Notice, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
