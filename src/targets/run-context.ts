import type { Logger } from "pino";
import type { RunContext } from "./types";

/** A run whose warnings are logged as they come and kept in `warnings`, for its record. */
export function collectingRun(signal: AbortSignal, logger: Logger): { run: RunContext; warnings: string[] } {
  const warnings: string[] = [];
  const run: RunContext = {
    signal,
    logger,
    warn(message, detail) {
      warnings.push(message);
      logger.warn(detail ?? {}, message);
    },
  };
  return { run, warnings };
}
