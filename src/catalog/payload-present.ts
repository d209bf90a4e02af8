/**
 * The last check before a manifest is written: every object it lists is on the destination with the
 * size it records. Between an object's upload and the manifest, a long run can lose it (maintenance on
 * another worker taking an old-looking folder without a manifest for a crashed run's leftovers), and a
 * manifest must never describe data that is not there: the snapshot would be listed, counted by
 * retention, and fail at the restore that needs it.
 */
import { HavenError } from "../lib/errors";
import type { StorageBackend } from "../storage/types";
import type { StoredObject } from "./manifest";

export async function assertPayloadPresent(
  storage: StorageBackend,
  objects: ReadonlyArray<Pick<StoredObject, "key" | "size">>,
): Promise<void> {
  for (const object of objects) {
    const found = await storage.stat(object.key);
    if (found?.size === object.size) continue;
    throw new HavenError(
      "TRANSIENT",
      found
        ? `${object.key} on ${storage.name} has ${found.size} bytes, not the ${object.size} just written; the snapshot was not committed`
        : `${object.key} vanished from ${storage.name} after it was written; the snapshot was not committed`,
      {
        hint: "a queued run is retried after its backoff. If it recurs, raise workers.staleUploadGrace above the longest backup or copy, so maintenance does not take a run in progress for a crashed one",
      },
    );
  }
}
