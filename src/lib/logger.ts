import pino, { type Logger } from "pino";
import { scrubKnownSecrets } from "./secret";

/** Paths pino blanks out wherever they appear in a log record (Secret values already print "[redacted]"). */
const REDACT_PATHS = [
  "password",
  "*.password",
  "secretAccessKey",
  "*.secretAccessKey",
  "sessionToken",
  "*.sessionToken",
  "token",
  "*.token",
  "identity",
  "*.identity",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "env.PGPASSWORD",
  "env.MYSQL_PWD",
  "env.REDISCLI_AUTH",
];

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Defaults to stderr, so stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

/** JSON logs to stderr. One logger per process; children carry `target`, `run`, `job`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.HAVEN_LOG_LEVEL ?? "info",
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: scrubLogLine },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/**
 * Key names catch the secrets Haven logs by name; this catches the ones a library put into a message
 * (a driver's error quoting its connection string). A value that also occurs outside a JSON string (a
 * numeric password equal to a pid) would break the line if replaced in the text, so then the line is
 * parsed and only its strings are scrubbed.
 */
export function scrubLogLine(line: string): string {
  const scrubbed = scrubKnownSecrets(line);
  if (scrubbed === line) return line;
  try {
    JSON.parse(scrubbed);
    return scrubbed;
  } catch {
    try {
      return `${JSON.stringify(scrubStrings(JSON.parse(line)))}\n`;
    } catch {
      return scrubbed; // not JSON to begin with: a readable line beats a leaked secret
    }
  }
}

function scrubStrings(value: unknown): unknown {
  if (typeof value === "string") return scrubKnownSecrets(value);
  if (Array.isArray(value)) return value.map(scrubStrings);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [scrubKnownSecrets(key), scrubStrings(inner)]),
    );
  }
  return value;
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
