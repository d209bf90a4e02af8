/**
 * The `files` target: a directory (local or a mounted share) backed up as a POSIX tar stream with a
 * JSON Lines file index beside it, and restored safely into any directory.
 */
import type { TargetConfigOf } from "../../config/types";
import { silentLogger, type Logger } from "../../lib/logger";
import type { BackupStream, RestoreStats, TargetAdapter } from "../types";
import { createTarArchive } from "./archive";
import { probeDirectory } from "./probe";
import { filesRecipe } from "./recipe";
import { restoreFiles } from "./restore";

/**
 * Creates the adapter for one `files` target.
 * - backup: `main` is the tar ("data", format "tar"); `after()` gives the index ("index", "jsonl");
 *   `done` resolves with `{ files, bytes }` once the tar ended, and rejects (SOURCE_FAILED) when the
 *   directory cannot be read. Files that change or vanish while read are `run.warn`ings (partial run).
 * - restore: into `to.path` or the configured path; refuses a non-empty directory without `force`;
 *   `include` globs restore part of the tree; `extra.index`, when given, verifies every file's sha256.
 *   Refused archive entries are listed in `rejected`.
 * `logger` is used only where no run context exists (the probe).
 */
export function createFilesAdapter(
  config: TargetConfigOf<"files">,
  logger: Logger = silentLogger,
): TargetAdapter {
  return {
    name: config.name,
    type: "files",
    capabilities: { pointInTime: false, restoreElsewhere: true, partialRestore: true },

    async probe(signal) {
      const result = await probeDirectory(config, signal);
      if (!result.ok)
        logger.warn({ target: config.name, checks: result.checks }, "files target probe failed");
      return result;
    },

    backup(run): Promise<BackupStream> {
      const archive = createTarArchive({
        target: config.name,
        root: config.path,
        exclude: config.exclude,
        mountpoint: config.mountpoint,
        allowEmpty: config.allowEmpty,
        run,
      });
      return Promise.resolve({
        main: { name: "data", format: "tar", body: archive.body },
        after: async () => [{ name: "index", format: "jsonl", body: await archive.index() }],
        done: archive.done,
      });
    },

    restore(body, to, run, options): Promise<RestoreStats> {
      return restoreFiles(config, body, to, run, options);
    },

    recipe: filesRecipe,
  };
}
