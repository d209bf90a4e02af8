/** Redis failures, classified from redis-cli's stderr and from ioredis errors. */
import { HavenError } from "../../lib/errors";
import { scrubSecrets, type Secret } from "../../lib/secret";
import type { FailureClassifier } from "../process";

const CREDENTIALS_HINT = "check user and password (password or passwordFile) of this target";
const PERMISSION_HINT =
  "the backup user needs the replication commands: ACL SETUSER <user> +sync +psync +replconf +info +ping";
const REACH_HINT =
  "check that the server is running and reachable at the target's host and port (and TLS settings)";

export const classifyRedisStderr: FailureClassifier = (stderr) => {
  if (/WRONGPASS|NOAUTH|AUTH failed|invalid password|invalid username-password/i.test(stderr)) {
    return { code: "CREDENTIALS", hint: CREDENTIALS_HINT };
  }
  if (/NOPERM|no permissions/i.test(stderr)) return { code: "SOURCE_FAILED", hint: PERMISSION_HINT };
  if (
    /Could not connect|Connection refused|I\/O error|Error: Server closed the connection|timed out/i.test(
      stderr,
    )
  ) {
    return { code: "SOURCE_FAILED", hint: REACH_HINT };
  }
  return undefined;
};

/** A HavenError for an ioredis failure while connecting or querying. */
export function redisClientError(
  what: string,
  error: unknown,
  secrets: ReadonlyArray<Secret | undefined>,
): HavenError {
  const message = scrubSecrets(error instanceof Error ? error.message : String(error), secrets);
  const code = (error as { code?: string } | null)?.code ?? "";
  const verdict = classifyRedisStderr(message);
  if (verdict)
    return new HavenError(verdict.code, `${what}: ${message}`, { hint: verdict.hint, cause: error });
  if (
    /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)$/.test(code) ||
    /connect|closed/i.test(message)
  ) {
    return new HavenError("SOURCE_FAILED", `${what}: ${message || code}`, { hint: REACH_HINT, cause: error });
  }
  return new HavenError("SOURCE_FAILED", `${what}: ${message}`, { cause: error });
}
