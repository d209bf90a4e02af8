/**
 * Where a processor's error meets BullMQ: decide whether a retry may help, and keep the error's
 * code and hint across Redis. BullMQ stores only a message (`failedReason`), so the code and the hint
 * are written into it in the same shape `describeError` prints, readable in any dashboard and
 * parsed back by `decodeFailure` for the CLI's exit code.
 */
import { UnrecoverableError } from "bullmq";
import { HavenError, type ErrorCode } from "../lib/errors";

/** Every ErrorCode, so a failure reason read back from Redis is checked, not cast. */
const ERROR_CODES: Readonly<Record<ErrorCode, true>> = {
  CONFIG: true,
  USAGE: true,
  NOT_FOUND: true,
  ALREADY_EXISTS: true,
  LOCKED: true,
  DECRYPT: true,
  CREDENTIALS: true,
  INTEGRITY: true,
  UNSAFE_ARCHIVE: true,
  SOURCE_FAILED: true,
  TRANSIENT: true,
  PERMANENT: true,
  REFUSED: true,
  PARTIAL: true,
  CANCELLED: true,
};

function isErrorCode(text: string): text is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, text);
}

/**
 * True when trying again may succeed: a HavenError TRANSIENT, or an error nobody classified (a bug
 * or a library error we did not foresee: retrying costs little, giving up on a backup costs a
 * recovery point). Every other HavenError code says the same attempt would fail the same way.
 */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof HavenError) || error.transient;
}

/**
 * True when BullMQ tries the job again after this attempt failed with `error`: a retryable error, or
 * an interrupted run (shutdown, a lost lock), while attempts are left.
 */
export function willRetry(
  error: unknown,
  interrupted: boolean,
  job: { attempt: number; maxAttempts: number },
): boolean {
  return (interrupted || isRetryable(error)) && job.attempt < job.maxAttempts;
}

/** `CODE: message` plus `\nhint: ...`; unclassified errors keep their bare message. */
export function encodeFailure(error: unknown): string {
  if (error instanceof HavenError) {
    return error.hint
      ? `${error.code}: ${error.message}\nhint: ${error.hint}`
      : `${error.code}: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

const ENCODED = /^([A-Z_]+): ([\s\S]*?)(?:\nhint: ([\s\S]*))?$/;

/** Reads a `failedReason` back into a HavenError; unclassified reasons become `fallback` errors. */
export function decodeFailure(reason: string, fallback: ErrorCode = "PERMANENT"): HavenError {
  const match = ENCODED.exec(reason);
  const [, code, message, hint] = match ?? [];
  if (code && message !== undefined && isErrorCode(code)) {
    return new HavenError(code, message, hint === undefined ? {} : { hint });
  }
  return new HavenError(fallback, reason);
}

/**
 * The error a BullMQ processor throws for `error`:
 * - when the run was interrupted (`interrupted`: shutdown or a lost target lock), a plain Error so
 *   BullMQ retries it, on this worker after a restart or on another one;
 * - when a retry may help (`isRetryable`), a plain Error: BullMQ retries with the job's backoff;
 * - otherwise an UnrecoverableError: BullMQ fails the job at once, whatever attempts are left.
 * The message is `encodeFailure(error)`; the stack is the original one, for the job's stacktrace.
 */
export function toJobError(error: unknown, interrupted = false): Error {
  const message = encodeFailure(error);
  const jobError = interrupted || isRetryable(error) ? new Error(message) : new UnrecoverableError(message);
  if (error instanceof Error && error.stack) jobError.stack = error.stack;
  return jobError;
}

/** The HavenError a run should raise when the engine returned `failed` instead of throwing. */
export function errorOfFailedResult(result: {
  target: string;
  error?: { code: string; message: string; hint?: string };
}): HavenError {
  const code = result.error?.code;
  return new HavenError(
    code !== undefined && isErrorCode(code) ? code : "PERMANENT",
    result.error?.message ?? `the backup of ${result.target} failed`,
    result.error?.hint === undefined ? {} : { hint: result.error.hint },
  );
}
