/**
 * Bounded parallelism for per-object requests (HEAD, GET of small JSON), so that reading or pruning
 * thousands of objects never floods a service.
 *
 * `fn` over every item, at most `limit` at a time; results in input order. The first rejection stops
 * taking new items and rejects the whole call once the requests already in flight have settled, so
 * none is left running behind a caller that has moved on (p-map rejects at once and leaves them).
 */
/** Default requests in flight per destination. */
export const PARALLEL_REQUESTS = 8;

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker);
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (rejected) throw rejected.reason;
  return results;
}
