/**
 * MySQL/MariaDB tool failures, classified from stderr: a rejected login is CREDENTIALS (exit 12);
 * missing grants, a missing schema and an unreachable server are SOURCE_FAILED with the usual fix.
 */
import type { FailureClassifier } from "../process";

const RULES: Array<{ pattern: RegExp; code: "CREDENTIALS" | "SOURCE_FAILED"; hint: string }> = [
  {
    // 1044: access denied to a database (a grant is missing), not a bad login.
    pattern: /\b1044\b|Access denied for user [^\n]* to database/i,
    code: "SOURCE_FAILED",
    hint: "grant the backup user access to the schema: GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON db.* TO ...",
  },
  {
    // 1045: wrong user or password; 1698: the account needs another authentication (e.g. unix_socket).
    pattern: /\b1045\b|\b1698\b|Access denied for user|authentication plugin/i,
    code: "CREDENTIALS",
    hint: "check user and password (password or passwordFile) of this target, and the account's allowed hosts",
  },
  {
    pattern: /\b1049\b|Unknown database/i,
    code: "SOURCE_FAILED",
    hint: "check the target's database name (database or the url's path)",
  },
  {
    pattern: /command denied|\b1142\b|\b1227\b|you need \(at least one of\)/i,
    code: "SOURCE_FAILED",
    hint: "grant the backup user SELECT, SHOW VIEW, TRIGGER, EVENT and LOCK TABLES on the schema (and SHOW_ROUTINE or SELECT on mysql.proc for routines)",
  },
  {
    pattern:
      /\b200[2356]\b|\b2013\b|Can't connect|Lost connection|server has gone away|Unknown (MySQL|MariaDB) server host/i,
    code: "SOURCE_FAILED",
    hint: "check that the server is running and reachable at the target's host and port (or socket), and TLS settings",
  },
];

export const classifyMysqlStderr: FailureClassifier = (stderr) => {
  const rule = RULES.find((r) => r.pattern.test(stderr));
  return rule ? { code: rule.code, hint: rule.hint } : undefined;
};
