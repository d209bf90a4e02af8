/**
 * SIGTERM and SIGINT for `haven serve` and `haven worker`: the first signal closes the workers
 * gracefully (no new jobs; running ones get the grace period, then their signals are aborted); a
 * second signal aborts running jobs at once. Either way the process exits only after every
 * processor has settled, so no run is cut off half way through writing its manifest.
 */
import type { Logger } from "../lib/logger";
import type { CloseOptions } from "./workers";

export interface Closable {
  close(options?: CloseOptions): Promise<void>;
}

export interface InstallShutdownOptions {
  /** Runs after the workers are closed: close queues, HTTP server, the Redis connection. */
  afterClose?: () => Promise<void> | void;
  /** Ends the process; default `process.exit`. Called with 0 after a clean close, 1 otherwise. */
  exit?: (code: number) => void;
  /** Signals to handle; default SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
}

/** Installs the handlers and returns a function that removes them. */
export function installShutdown(
  handle: Closable,
  logger: Logger,
  options: InstallShutdownOptions = {},
): () => void {
  const signals = options.signals ?? (["SIGTERM", "SIGINT"] as const);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let closing = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, "second signal: aborting running jobs now");
      // Its outcome is reported by the first call's chain below.
      handle.close({ graceMs: 0 }).catch(() => undefined);
      return;
    }
    closing = true;
    logger.info({ signal }, "shutting down: finishing running jobs (send the signal again to abort them)");
    handle
      .close()
      .then(() => options.afterClose?.())
      .then(
        () => exit(0),
        (error: unknown) => {
          logger.error({ err: error instanceof Error ? error.message : String(error) }, "unclean shutdown");
          exit(1);
        },
      );
  };

  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
