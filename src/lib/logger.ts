import pino, { type Logger } from "pino";

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
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: "silent" });
