import { text } from "node:stream/consumers";
import { isHavenError } from "../lib/errors";
import type { GetOptions, StorageBackend } from "./types";

/**
 * The object's content as text, or undefined when it does not exist (it may have been removed
 * between a listing and this read, by a prune). Every other storage error propagates.
 */
export async function readTextIfPresent(
  storage: StorageBackend,
  key: string,
  options?: GetOptions,
): Promise<string | undefined> {
  try {
    return await text(await storage.get(key, options));
  } catch (error) {
    if (isHavenError(error, "NOT_FOUND")) return undefined;
    throw error;
  }
}
