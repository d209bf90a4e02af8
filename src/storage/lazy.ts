/**
 * A backend whose implementation is loaded at its first use. The S3 backend brings in the AWS SDK,
 * about a tenth of a second of every CLI call's start-up; a command that never touches S3 (a backup to
 * a NAS, `haven config validate`) should not pay for it. Name, location and capabilities come from the
 * config, so they are known before the module is.
 */
import type { StorageBackend } from "./types";

type Identity = Pick<StorageBackend, "name" | "location" | "capabilities">;

export function lazyBackend(identity: Identity, load: () => Promise<StorageBackend>): StorageBackend {
  let loaded: Promise<StorageBackend> | undefined;
  // A failed load (an unreadable credentials file) is not kept: the next call tries again.
  const backend = (): Promise<StorageBackend> =>
    (loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    }));
  return {
    name: identity.name,
    location: identity.location,
    capabilities: identity.capabilities,
    put: async (key, body, opts) => (await backend()).put(key, body, opts),
    get: async (key, opts) => (await backend()).get(key, opts),
    stat: async (key) => (await backend()).stat(key),
    list: (prefix) => delegated(async () => (await backend()).list(prefix)),
    remove: async (keys) => (await backend()).remove(keys),
    listIncomplete: (prefix) => delegated(async () => (await backend()).listIncomplete(prefix)),
    abortIncomplete: async (upload) => (await backend()).abortIncomplete(upload),
    probe: async (signal) => (await backend()).probe(signal),
    // Nothing to release when it was never loaded.
    close: async () => (loaded ? (await loaded).close() : undefined),
  };
}

async function* delegated<T>(source: () => Promise<AsyncIterable<T>>): AsyncIterable<T> {
  yield* await source();
}
