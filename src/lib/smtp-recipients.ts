/**
 * Recipients an SMTP server refused while it accepted the message for others. nodemailer fails a send
 * only when every recipient is refused; when some are accepted it resolves, and the refused ones are
 * only listed on the result (`rejected`, `rejectedErrors`). Every mail Haven sends reads them here, so
 * a mistyped or closed mailbox in a recipient list is said, not silently skipped.
 */
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
