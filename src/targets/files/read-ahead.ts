/**
 * Ordered, bounded look-ahead: while the consumer handles item i, items i+1 … i+window are already
 * being loaded (stat, open, small reads on the libuv thread pool). Results come out in source order.
 */

/**
 * Maps `source` through `load` with at most `window` loads in flight and yields the results in order.
 * When the consumer stops early or a load rejects, results loaded ahead are handed to `release`
 * (to close file descriptors) before the generator finishes.
 */
export async function* readAhead<T, R>(
  source: AsyncIterator<T>,
  window: number,
  load: (item: T) => Promise<R>,
  release: (result: R) => Promise<void>,
): AsyncGenerator<R> {
  const inFlight: Array<Promise<R>> = [];
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && inFlight.length < window) {
        const next = await source.next();
        if (next.done === true) {
          exhausted = true;
          break;
        }
        const loading = load(next.value);
        // Awaited below in order; this only stops an early rejection from counting as unhandled.
        loading.catch(() => undefined);
        inFlight.push(loading);
      }
      const head = inFlight.shift();
      if (head === undefined) return;
      yield await head;
    }
  } finally {
    await Promise.all(inFlight.map((loading) => loading.then(release, () => undefined)));
    await source.return?.();
  }
}
