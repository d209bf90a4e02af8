/**
 * One error type for everything an operator can see. Errors are classified where an SDK or a child
 * process meets our code (see HOUSE_STYLE practice 4) so that callers decide on `code`, never on messages.
 */
import { scrubKnownSecrets } from "./secret";

export type ErrorCode =
  | "CONFIG" // the config file is invalid
  | "USAGE" // bad CLI arguments
  | "NOT_FOUND" // no such snapshot / object / target
  | "ALREADY_EXISTS" // create-only write found the key taken
  | "LOCKED" // another run holds the target's lock
  | "DECRYPT" // decryption failed or no identity fits
  | "CREDENTIALS" // authentication to a server or bucket failed
  | "INTEGRITY" // a hash or size did not match: data is corrupt
  | "UNSAFE_ARCHIVE" // an archive entry tried to escape the restore directory
  | "SOURCE_FAILED" // the producer of a backup stream (dump tool, file walk) failed
  | "TRANSIENT" // network blip, throttling, 5xx: worth retrying
  | "PERMANENT" // will fail again the same way: do not retry
  | "REFUSED" // a guard rail refused a dangerous operation
  | "PARTIAL" // the run finished but with warnings that make it partial
  | "CANCELLED";

/** Process exit codes, the CLI contract of DESIGN.md. */
export const ExitCode = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  BREACH_OR_PARTIAL: 3,
  NO_SNAPSHOT: 10,
  LOCKED: 11,
  DECRYPT_OR_CREDENTIALS: 12,
  CANCELLED: 130,
} as const;

const exitCodeByErrorCode: Partial<Record<ErrorCode, number>> = {
  CONFIG: ExitCode.USAGE,
  USAGE: ExitCode.USAGE,
  NOT_FOUND: ExitCode.NO_SNAPSHOT,
  LOCKED: ExitCode.LOCKED,
  DECRYPT: ExitCode.DECRYPT_OR_CREDENTIALS,
  CREDENTIALS: ExitCode.DECRYPT_OR_CREDENTIALS,
  PARTIAL: ExitCode.BREACH_OR_PARTIAL,
  CANCELLED: ExitCode.CANCELLED,
};

export interface HavenErrorOptions {
  /** What the operator should do next, in one sentence. */
  hint?: string;
  cause?: unknown;
  /** Overrides the exit code derived from `code`. */
  exitCode?: number;
}

export class HavenError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: HavenErrorOptions = {}) {
    // Messages are often built from a library's error, which may quote a connection string; they
    // are printed, logged, and stored in job records and verification records.
    super(scrubKnownSecrets(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HavenError";
    this.code = code;
    this.hint = options.hint === undefined ? undefined : scrubKnownSecrets(options.hint);
    this.exitCode = options.exitCode ?? exitCodeByErrorCode[code] ?? ExitCode.FAILED;
  }

  /** True when retrying the same operation may succeed. */
  get transient(): boolean {
    return this.code === "TRANSIENT";
  }
}

export function isHavenError(error: unknown, code?: ErrorCode): error is HavenError {
  return error instanceof HavenError && (code === undefined || error.code === code);
}

/** The message an operator reads: what happened, then what to do. */
export function describeError(error: unknown): string {
  if (error instanceof HavenError) {
    return error.hint ? `${error.message}\n  hint: ${error.hint}` : error.message;
  }
  return scrubKnownSecrets(error instanceof Error ? error.message : String(error));
}

/** An error as a table row shows it (doctor): what went wrong, and the fix when there is one. */
export function errorParts(error: unknown): { detail: string; fix?: string } {
  if (error instanceof HavenError)
    return { detail: error.message, ...(error.hint ? { fix: error.hint } : {}) };
  return { detail: describeError(error) };
}

/** What to do when a helper thread (hashing, encryption) died mid-run. */
export const THREAD_FAILURE_HINT =
  "a queued run is retried after its backoff; run a --direct one again. If it recurs, check the memory limit of the worker process";
