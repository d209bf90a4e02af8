/**
 * Blocking file system calls while they are fast, the libuv thread pool once they are slow.
 *
 * Measured here (2 cores, 20,000 small files in the page cache), blocking calls archive about twice as
 * fast with half the CPU of thread-pool calls, and extract with a fifth of the user CPU: each thread-pool
 * round trip costs wake-ups, and with zstd and the upload on the same cores those wake-ups wait for a
 * time slice. A blocking call only pays while calls are quick, though: on a network mount or a cold
 * disk it stalls the event loop (and the archiver can no longer read ahead). So a run starts with
 * blocking calls, times the metadata calls, and moves to the thread pool for the rest of the run when
 * many of them are slow.
 */

/** "adaptive" (the default): as above. "thread-pool": from the start, for slow mounts known in advance. */
export type IoMode = "adaptive" | "thread-pool";

/**
 * Default threshold: a metadata call (open, stat, readdir) slower than this counts as slow. From the
 * page cache such a call takes a few microseconds; over a network mount or from a cold disk, a round
 * trip or a seek.
 */
export const SLOW_CALL_MS = 0.2;
/** Calls per verdict, and the share of them that must be slow to switch (one preempted call must not). */
const WINDOW = 64;
const SLOW_SHARE = 0.25;

type AnyCall = (...args: never[]) => unknown;

export class AdaptiveCalls<C extends { [K in keyof C]: AnyCall }> {
  readonly #blocking: C;
  readonly #threadPool: C;
  readonly #onSwitch: (slowShare: number) => void;
  readonly #slowCallMs: number;
  #calls: C;
  #windowCalls = 0;
  #windowSlow = 0;

  /**
   * `timed`: the calls whose latency tells a slow file system (not reads and writes, whose time grows
   * with their size); `slowCallMs` (default SLOW_CALL_MS) what counts as slow for them. `onSwitch` is
   * told the share of slow calls that caused the move.
   */
  constructor(
    blocking: C,
    threadPool: C,
    options: {
      mode: IoMode;
      timed: ReadonlyArray<keyof C>;
      slowCallMs?: number;
      onSwitch: (slowShare: number) => void;
    },
  ) {
    this.#slowCallMs = options.slowCallMs ?? SLOW_CALL_MS;
    this.#threadPool = threadPool;
    this.#onSwitch = options.onSwitch;
    const timed = { ...blocking };
    for (const key of options.timed) timed[key] = this.#time(blocking[key]);
    this.#blocking = timed;
    this.#calls = options.mode === "adaptive" ? this.#blocking : threadPool;
  }

  /** The calls to use now; may change between two calls, so read it for each one. */
  get calls(): C {
    return this.#calls;
  }

  get blocking(): boolean {
    return this.#calls === this.#blocking;
  }

  #time<F extends AnyCall>(call: F): F {
    return ((...args: Parameters<F>) => {
      const started = performance.now();
      try {
        return call(...args);
      } finally {
        this.#observe(performance.now() - started);
      }
    }) as F;
  }

  #observe(ms: number): void {
    this.#windowCalls++;
    if (ms > this.#slowCallMs) this.#windowSlow++;
    if (this.#windowCalls < WINDOW) return;
    const slowShare = this.#windowSlow / this.#windowCalls;
    this.#windowCalls = 0;
    this.#windowSlow = 0;
    if (slowShare >= SLOW_SHARE && this.blocking) {
      this.#calls = this.#threadPool;
      this.#onSwitch(slowShare);
    }
  }
}
