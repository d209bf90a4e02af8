/**
 * Recipients an SMTP server refused while it accepted the message for others. nodemailer fails a send
 * only when every recipient is refused; when some are accepted it resolves, and the refused ones are
 * only listed on the result (`rejected`, `rejectedErrors`). Every mail Haven sends reads them here, so
 * a mistyped or closed mailbox in a recipient list is said, not silently skipped.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { scrubSecrets, type Secret } from "./secret";
import { isPermanentSmtpError } from "./smtp-errors";

export interface RefusedRecipient {
  address: string;
  /** The server's reply (`550 5.1.1 no such user`), secrets scrubbed. */
  reason: string;
  /** A 5xx reply: sending to the address again fails the same way. A 4xx one may pass later. */
  permanent: boolean;
}

/** What nodemailer's `sendMail` resolves with (or throws, when every recipient was refused). */
interface SendOutcome {
  rejected?: unknown;
  rejectedErrors?: unknown;
}

/** One of nodemailer's `rejectedErrors`. */
interface RecipientError {
  recipient?: unknown;
  response?: unknown;
  responseCode?: unknown;
}

/** The recipients `outcome` says were refused, with the server's reply for each when it gave one. */
export function refusedRecipients(
  outcome: unknown,
  secrets: ReadonlyArray<Secret | string | undefined> = [],
): RefusedRecipient[] {
  const { rejected, rejectedErrors } = (outcome ?? {}) as SendOutcome;
  const replies = new Map<string, RecipientError>();
  if (Array.isArray(rejectedErrors)) {
    for (const error of rejectedErrors as RecipientError[]) {
      if (typeof error?.recipient === "string") replies.set(error.recipient, error);
    }
  }
  const addresses = Array.isArray(rejected)
    ? rejected.filter((a): a is string => typeof a === "string")
    : [...replies.keys()];
  return [...new Set(addresses)].map((address) => {
    const reply = replies.get(address);
    const code = typeof reply?.responseCode === "number" ? reply.responseCode : null;
    const response = typeof reply?.response === "string" ? reply.response : "refused by the server";
    return { address, reason: scrubSecrets(response, secrets), permanent: code === null || code >= 500 };
  });
}

/** `b@example.com (550 5.1.1 no such user), c@example.com (451 try later)` */
export function describeRefused(refused: readonly RefusedRecipient[]): string {
  return refused.map((r) => `${r.address} (${r.reason})`).join(", ");
}

/**
 * The recipients of a send that failed after others already had the mail (a second send, to the
 * deferred ones only): those the error names with their replies, else all of `to`, with `reason`.
 * Nobody among them has it; a 5xx is final, anything else may pass on a later send.
 */
export function refusedBySend(
  error: unknown,
  to: readonly string[],
  reason: string,
  secrets: ReadonlyArray<Secret | string | undefined> = [],
): RefusedRecipient[] {
  const named = refusedRecipients(error, secrets);
  if (named.length > 0) return named;
  const permanent = isPermanentSmtpError(error);
  return to.map((address) => ({ address, reason, permanent }));
}

/** What nodemailer's `sendMail` resolves with, as far as the resend loop reads it. */
export interface SentMail extends SendOutcome {
  messageId: string;
  accepted?: unknown[];
}

export interface ResendOptions {
  /** Sends in all, the first included. */
  attempts: number;
  /** Wait before the second send, doubled before each next one. */
  delayMs: number;
  signal?: AbortSignal;
  secrets: ReadonlyArray<Secret | string | undefined>;
  /** The reason a failed send gives its recipients (secrets scrubbed). */
  describe: (error: unknown) => string;
  /**
   * A send failed before anyone had the mail: throw to stop; return to send it to all again (only
   * while attempts remain; after the last one the failure is final, so this should throw).
   */
  failedWhole: (error: unknown, attempt: number, reason: string) => void;
  /** Before each wait for a resend to the deferred recipients. */
  onResend?: (deferred: readonly RefusedRecipient[], attempt: number, delayMs: number) => void;
}

export interface ResendOutcome {
  messageId: string;
  /** Who has the mail. */
  delivered: string[];
  /** Who does not: refused for good, or still deferred after the last send (or the cancel). */
  refused: RefusedRecipient[];
  attempts: number;
  /** The wait for a resend was cancelled by `signal`. */
  cancelled: boolean;
}

/**
 * Sends to `to`, then again only to the recipients the server deferred (4xx), with backoff: a
 * recipient who has the mail never gets it twice, and one refused for good (5xx) is not asked again.
 */
export async function sendWithResends(
  send: (to: string[]) => Promise<SentMail>,
  to: readonly string[],
  options: ResendOptions,
): Promise<ResendOutcome> {
  const delivered: string[] = [];
  const refused: RefusedRecipient[] = [];
  let pending = [...to];
  let messageId = "";
  for (let attempt = 1; ; attempt++) {
    let deferred: RefusedRecipient[];
    try {
      const info = await send(pending);
      messageId ||= info.messageId;
      delivered.push(...(info.accepted ?? []).map(String));
      const refusedNow = refusedRecipients(info, options.secrets);
      refused.push(...refusedNow.filter((r) => r.permanent));
      deferred = refusedNow.filter((r) => !r.permanent);
    } catch (error) {
      const reason = options.describe(error);
      if (delivered.length === 0) {
        options.failedWhole(error, attempt, reason);
        deferred = pending.map((address) => ({ address, reason, permanent: false }));
      } else {
        // A resend to the deferred ones failed: the others have the mail already.
        const failed = refusedBySend(error, pending, reason, options.secrets);
        refused.push(...failed.filter((r) => r.permanent));
        deferred = failed.filter((r) => !r.permanent);
      }
    }
    const outcome = (cancelled: boolean): ResendOutcome => {
      refused.push(...deferred);
      return { messageId, delivered, refused, attempts: attempt, cancelled };
    };
    if (deferred.length === 0 || attempt >= options.attempts || options.signal?.aborted)
      return outcome(false);
    pending = deferred.map((r) => r.address);
    const delayMs = options.delayMs * 2 ** (attempt - 1);
    options.onResend?.(deferred, attempt, delayMs);
    try {
      await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined);
    } catch {
      return outcome(true);
    }
  }
}
