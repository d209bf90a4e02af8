/**
 * PostgreSQL failures, classified where they meet our code: from libpq tools' stderr and from the
 * `pg` client's errors (SQLSTATE codes, socket errors). Authentication problems are CREDENTIALS
 * (exit 12); everything else that stops a dump is SOURCE_FAILED with a hint for the usual cause.
 */
import { HavenError } from "../../lib/errors";
import { scrubSecrets, type Secret } from "../../lib/secret";
import type { FailureClassifier } from "../process";

const CREDENTIALS_HINT =
  "check user and password (password or passwordFile) of this target, and that pg_hba.conf lets this host in";

const STDERR_RULES: Array<{
  pattern: RegExp;
  code: "CREDENTIALS" | "SOURCE_FAILED" | "PERMANENT";
  hint: string;
}> = [
  {
    pattern:
      /password authentication failed|no password supplied|is not permitted to log in|pg_hba\.conf rejects|no pg_hba\.conf entry|role "[^"]*" does not exist|authentication failed/i,
    code: "CREDENTIALS",
    hint: CREDENTIALS_HINT,
  },
  {
    pattern: /database "[^"]*" does not exist/i,
    code: "SOURCE_FAILED",
    hint: "check the target's database name (database or the url's path)",
  },
  {
    pattern: /server version mismatch|aborting because of server version/i,
    code: "PERMANENT",
    hint: "install a pg_dump at least as new as the server (postgresql-client-<major>) and put it first on PATH",
  },
  {
    pattern: /permission denied/i,
    code: "SOURCE_FAILED",
    hint: "grant the backup role read access (e.g. GRANT pg_read_all_data TO <role>), or exclude the objects it cannot read",
  },
  {
    pattern:
      /could not connect|connection refused|could not translate host name|timeout expired|server closed the connection|connection to server .* failed/i,
    code: "SOURCE_FAILED",
    hint: "check that the server is running and reachable at the target's host and port (and TLS settings)",
  },
];

/** Classifies the stderr of pg_dump, pg_dumpall and pg_restore. */
export const classifyPgStderr: FailureClassifier = (stderr) => {
  const rule = STDERR_RULES.find((r) => r.pattern.test(stderr));
  return rule ? { code: rule.code, hint: rule.hint } : undefined;
};

/**
 * Classifies pg_restore's stderr. A statement of the dump that fails ("could not execute query") is
 * about the dump's objects on this server, not about the login: there `role "x" does not exist` is an
 * owner or grantee missing on a new server (the usual first restore after a disaster), which the
 * rules above took for a failed login (CREDENTIALS, exit 12, "check user and password").
 */
export function classifyPgRestoreStderr(snapshotHasGlobals: boolean): FailureClassifier {
  return (stderr) => {
    if (/could not execute query: ERROR:\s+role "[^"]*" does not exist/i.test(stderr)) {
      const create = snapshotHasGlobals
        ? "from the snapshot's globals (the manifest's restore recipe pipes globals.sql into psql --dbname=postgres)"
        : "(CREATE ROLE, or pg_dumpall --roles-only on the old server piped into psql)";
      return {
        code: "PERMANENT",
        hint: `the dump's objects belong or are granted to roles this server lacks: create them first ${create}, then restore again`,
      };
    }
    if (
      /could not execute query: ERROR:\s+(permission denied|must be owner|must be member of role|must be able to SET ROLE)/i.test(
        stderr,
      )
    ) {
      return {
        code: "PERMANENT",
        hint: "restore as a role that may create and own the dump's objects: the database's owner or a superuser",
      };
    }
    return classifyPgStderr(stderr);
  };
}

interface PgClientError {
  code?: string;
  message?: string;
}

/** A HavenError for an error of the `pg` client while connecting or querying. */
export function pgClientError(
  what: string,
  error: unknown,
  secrets: ReadonlyArray<Secret | undefined>,
): HavenError {
  const err = (typeof error === "object" && error !== null ? error : {}) as PgClientError;
  const message = scrubSecrets(err.message ?? String(error), secrets);
  const code = err.code ?? "";
  // SQLSTATE class 28: invalid authorization (28P01 wrong password, 28000 role may not log in / hba).
  if (code.startsWith("28") || /password authentication|no password|SASL|SCRAM/i.test(message)) {
    return new HavenError("CREDENTIALS", `${what}: ${message}`, { hint: CREDENTIALS_HINT, cause: error });
  }
  if (code === "3D000") {
    return new HavenError("SOURCE_FAILED", `${what}: ${message}`, {
      hint: "check the target's database name (database or the url's path)",
      cause: error,
    });
  }
  if (code === "42501") {
    return new HavenError("SOURCE_FAILED", `${what}: ${message}`, {
      hint: "grant the backup role read access (e.g. GRANT pg_read_all_data TO <role>)",
      cause: error,
    });
  }
  if (
    /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH)$/.test(code) ||
    /timeout/i.test(message)
  ) {
    return new HavenError("SOURCE_FAILED", `${what}: ${message || code}`, {
      hint: "check that the server is running and reachable at the target's host and port (and TLS settings)",
      cause: error,
    });
  }
  return new HavenError("SOURCE_FAILED", `${what}: ${message}`, { cause: error });
}
