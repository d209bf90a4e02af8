/** How a failed SMTP send (a nodemailer error) is classified, for every mail Haven sends. */

/** Client errors that fail the same way again, when the server gave no reply code. */
const PERMANENT_CLIENT_CODES = new Set(["EAUTH", "EENVELOPE", "EMESSAGE", "ETLS"]);

/**
 * True when sending again cannot help. The server's reply code decides when there is one: 4xx is
 * "try again later" (greylisting's 451 at RCPT TO, a full queue's 452), 5xx is final, though
 * nodemailer tags a refused recipient EENVELOPE and a refused message EMESSAGE either way. Without a
 * reply code, the client's error code decides (a network error is worth retrying).
 */
export function isPermanentSmtpError(error: unknown): boolean {
  const e = error as { code?: unknown; responseCode?: unknown };
  if (typeof e.responseCode === "number") return e.responseCode >= 500;
  return typeof e.code === "string" && PERMANENT_CLIENT_CODES.has(e.code);
}
