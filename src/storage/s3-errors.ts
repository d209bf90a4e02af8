/**
 * Where the AWS SDK meets our code: every SDK or network error becomes one HavenError whose code
 * decides retries (TRANSIENT) and exit codes, and whose hint names the destination and the config key
 * to check. Messages carry the destination's name and location, never a credential.
 */
import { HavenError, isHavenError } from "../lib/errors";

export interface S3ErrorContext {
  /** The destination's name in the config ("primary"). */
  destination: string;
  /** "s3://bucket/prefix" */
  location: string;
  /** What we were doing: "put", "get", "list", ... */
  operation: string;
  key?: string;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $fault?: "client" | "server";
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  errors?: unknown[];
}

const CREDENTIAL_ERRORS = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "InvalidToken",
  "ExpiredToken",
  "TokenRefreshRequired",
  "CredentialsProviderError",
  "InvalidSecurity",
  "AllAccessDisabled",
  "AccountProblem",
]);

const THROTTLING_ERRORS = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "RequestThrottled",
  "ServiceUnavailable",
  "InternalError",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "OperationAborted",
  "ConditionalRequestConflict",
]);

/**
 * The body arrived damaged or short (a proxy, a flaky link): the service refused it, so nothing was
 * stored, and a run sent again can succeed. Permanent only if it keeps happening, which the retries
 * and then the failed run show.
 */
const DAMAGED_IN_TRANSIT_ERRORS = new Set(["BadDigest", "IncompleteBody", "XAmzContentSHA256Mismatch"]);

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
]);

/** Turns any error thrown by an S3 call into a HavenError (HavenErrors pass through unchanged). */
export function classifyS3Error(error: unknown, ctx: S3ErrorContext): HavenError {
  if (isHavenError(error)) return error;
  const e = (typeof error === "object" && error !== null ? error : {}) as SdkErrorShape;
  const name = e.name ?? "Error";
  const status = e.$metadata?.httpStatusCode;
  const what = `${ctx.operation}${ctx.key === undefined || ctx.key === "" ? "" : ` ${ctx.key}`} on destination ${ctx.destination} (${ctx.location})`;
  const detail = `${name}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(error)}`;
  const config = `destinations.${ctx.destination}`;
  const make = (code: ConstructorParameters<typeof HavenError>[0], message: string, hint: string) =>
    new HavenError(code, message, { hint, cause: error });

  if (name === "NoSuchUpload") {
    // The multipart upload vanished under a put (a lifecycle rule or another process aborted it, or
    // a retried commit found it completed): no object is missing, and a fresh run succeeds.
    return make(
      "TRANSIENT",
      `${what} failed: its multipart upload no longer exists (NoSuchUpload)`,
      "a queued run is retried after its backoff. If it recurs, look for an AbortIncompleteMultipartUpload lifecycle rule shorter than the longest backup, or another tool aborting uploads in the bucket",
    );
  }
  if (name === "NoSuchKey" || name === "NotFound" || (status === 404 && name !== "NoSuchBucket")) {
    return make("NOT_FOUND", `${what}: no such object`, "list what exists with `haven snapshots`");
  }
  if (name === "NoSuchBucket") {
    return make(
      "PERMANENT",
      `${what} failed: the bucket does not exist`,
      `create the bucket, or fix ${config}.bucket (and ${config}.endpoint / region if it lives elsewhere)`,
    );
  }
  if (name === "PreconditionFailed" || status === 412) {
    return make(
      "ALREADY_EXISTS",
      `${what}: the key already exists`,
      "create-only objects are never overwritten",
    );
  }
  if (name === "RequestTimeTooSkewed") {
    return make(
      "CREDENTIALS",
      `${what} failed: ${detail}`,
      "this machine's clock differs too much from the S3 service; synchronise it (NTP)",
    );
  }
  if (CREDENTIAL_ERRORS.has(name) || status === 401 || status === 403) {
    return make(
      "CREDENTIALS",
      `${what} failed: ${detail}`,
      `check ${config}.accessKeyId and ${config}.secretAccessKey (or secretAccessKeyFile, or the AWS default credential chain), and that this key may ${ctx.operation} in the bucket`,
    );
  }
  if (name === "AbortError") {
    return new HavenError("CANCELLED", `${what} was cancelled`, { cause: error });
  }
  if (isTransient(e, name, status)) {
    return make(
      "TRANSIENT",
      `${what} failed: ${detail}`,
      `the S3 service did not answer properly: a queued run is tried again after its backoff, a --direct one is yours to run again. If it persists, check ${config}.endpoint, the network, and the service's health`,
    );
  }
  if (name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed" || status === 301) {
    return make(
      "PERMANENT",
      `${what} failed: ${detail}`,
      `the bucket lives in another region: fix ${config}.region`,
    );
  }
  if (name === "NotImplemented" || status === 501 || name === "MethodNotAllowed" || status === 405) {
    return make(
      "PERMANENT",
      `${what} failed: the S3 service does not implement this request (${detail})`,
      `${config}.endpoint points at a service without this S3 feature`,
    );
  }
  return make(
    "PERMANENT",
    `${what} failed: ${detail}`,
    `check the settings of ${config} and the cause below`,
  );
}

/** True for SDK "not implemented"-type answers, on which optional features degrade instead of failing. */
export function isNotImplemented(error: unknown): boolean {
  const e = (typeof error === "object" && error !== null ? error : {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  return e.name === "NotImplemented" || e.name === "MethodNotAllowed" || status === 501 || status === 405;
}

function isTransient(e: SdkErrorShape, name: string, status: number | undefined): boolean {
  if (THROTTLING_ERRORS.has(name) || DAMAGED_IN_TRANSIT_ERRORS.has(name)) return true;
  if (status === 429 || status === 408) return true;
  if (status !== undefined && status >= 500 && status !== 501 && status !== 505) return true;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return true;
  // The SDK re-wraps a thrown value that is not an Error of its own realm (under test runners, Node's
  // socket errors) into a plain Error whose message is all that is left of the code.
  const wrapped = /^AWS SDK error wrapper for .*\b(E[A-Z_]+)\b/.exec(e.message ?? "")?.[1];
  if (wrapped !== undefined && NETWORK_CODES.has(wrapped)) return true;
  // Or the wrapped error's name, e.g. "AWS SDK error wrapper for TimeoutError: socket hang up" (a
  // server that went away mid-request).
  const wrappedName = /^AWS SDK error wrapper for (\w+)/.exec(e.message ?? "")?.[1];
  if (wrappedName !== undefined && THROTTLING_ERRORS.has(wrappedName)) return true;
  // Node reports a refused connection to a name with several addresses as an AggregateError.
  if (
    Array.isArray(e.errors) &&
    e.errors.some((inner) => NETWORK_CODES.has((inner as SdkErrorShape).code ?? ""))
  ) {
    return true;
  }
  return e.$fault === "server" && status === undefined;
}
