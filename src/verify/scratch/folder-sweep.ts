/**
 * Sweeping scratch folders (files and sqlite places, redis scratch servers' directories) that crashed
 * restore tests left in their parent folder, usually the OS temp dir, which other programs share.
 * Only names in the target's exact format are candidates (sweep.ts), and of those only a real
 * directory (not a link to one) of this process's own user is removed: a folder another user made
 * under that name is not one of ours.
 */
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../lib/logger";
import { DIR_FORMAT } from "./names";
import { sweepLeftovers } from "./sweep";

/**
 * Removes the orphaned folders in `parent` whose names start with `prefix`; `release` runs first on
 * each (a redis directory's server is stopped). Never rejects; returns the names removed.
 */
export function sweepFolders(
  parent: string,
  prefix: string,
  logger: Logger,
  now: Date,
  release?: (path: string) => Promise<void>,
): Promise<string[]> {
  return sweepLeftovers(
    {
      where: `folders in ${parent}`,
      format: DIR_FORMAT(prefix),
      list: async () => (await readdir(parent)).filter((name) => name.startsWith(prefix)),
      async remove(name) {
        const path = join(parent, name);
        const stats = await lstat(path);
        if (!stats.isDirectory() || stats.uid !== process.getuid?.()) {
          throw new Error(`${path} is not a directory of this user, so not Haven's: left alone`);
        }
        await release?.(path);
        await rm(path, { recursive: true, force: true, maxRetries: 3 });
      },
      byHand: (name) => `remove it by hand: rm -rf '${join(parent, name)}'`,
    },
    logger,
    now,
  );
}
