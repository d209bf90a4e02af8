import type { Command } from "commander";
import { isSnapshotId } from "../catalog/layout";
import { loadConfig, resolveConfigPath } from "../config/load";
import type { HavenConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import { createLogger, type Logger } from "../lib/logger";
import { readPresentedToken, resolveOperator, type Operator } from "../operators";

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string;
  logLevel?: string;
  as?: string;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Logs go to stderr; long-running commands default to `info`, one-shot commands to `warn`. */
export function commandLogger(command: Command, defaultLevel = "warn"): Logger {
  return createLogger({ level: globalOptions(command).logLevel ?? envLogLevel() ?? defaultLevel });
}

/**
 * HAVEN_LOG_LEVEL, checked: pino refused an unknown level with "default level:x must be included in
 * custom levels" and the command failed (exit 1) after its config was read. (--log-level is checked
 * by commander, with the same list.)
 */
function envLogLevel(): string | undefined {
  const level = process.env.HAVEN_LOG_LEVEL;
  if (level === undefined || level === "") return undefined;
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level;
  throw new HavenError("USAGE", `HAVEN_LOG_LEVEL=${JSON.stringify(level)} is not a log level`, {
    hint: `use one of ${LOG_LEVELS.join(", ")}, or unset it`,
  });
}

export async function commandConfig(command: Command): Promise<HavenConfig> {
  return loadConfig(resolveConfigPath(globalOptions(command).config));
}

/** Who is acting: a token (HAVEN_TOKEN / HAVEN_TOKEN_FILE), `--as`, or the OS user on installs without operators. */
export async function commandOperator(command: Command, config: HavenConfig): Promise<Operator> {
  return resolveOperator(config, { token: await readPresentedToken(), as: globalOptions(command).as });
}

/** An AbortSignal aborted by the first SIGINT/SIGTERM, so a cancelled command cleans up. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  const abort = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) controller.abort(new Error(`received ${signal}`));
  };
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  return controller.signal;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Renders rows as an aligned text table. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${[line(headers), ...rows.map(line)].join("\n")}\n`);
}

/**
 * Commander's parser for `--snapshot <id>`: an id is also a folder name in the destination, so
 * anything else (a typo, `../x`) is a usage error here, before a key is built from it.
 */
export function snapshotIdArgument(text: string): string {
  if (isSnapshotId(text)) return text;
  throw new HavenError("USAGE", `--snapshot ${JSON.stringify(text)} is not a snapshot id`, {
    hint: "ids look like 20261206T193112Z-d59c4cde: haven snapshots TARGET lists them",
  });
}
