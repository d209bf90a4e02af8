/**
 * The timer behind the database restores' lock watches (postgres/lock-watch.ts, mysql/lock-watch.ts):
 * runs `look` every LOCK_WATCH.intervalMs, one at a time, until stopped. A look that fails ends the
 * watch (logged at debug level): a watch only explains a wait, and never fails the restore it watches.
 */
import type { RunContext } from "./types";

/** How often a restore's session is looked at; tests shorten it. */
export const LOCK_WATCH = { intervalMs: 10_000 };

export interface LockWatch {
  /** Stops the watch; resolves once a look in progress has ended and `close` has run. */
  stop(): Promise<void>;
}

/** `close` frees what the looks hold (a connection), once the watch is stopped. */
export function periodicLockWatch(
  look: (isStopped: () => boolean) => Promise<void>,
  run: RunContext,
  close: () => Promise<void> = () => Promise.resolve(),
): LockWatch {
  let stopped = false;
  let tick: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    tick = tick
      .then(() => look(() => stopped))
      .catch((error: unknown) => {
        run.logger.debug(
          { err: String(error) },
          "lock watch stopped: it could not look at the restore's session",
        );
        clearInterval(timer);
      });
  }, LOCK_WATCH.intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await tick;
      await close().catch(() => undefined);
    },
  };
}
