/**
 * Restore of a files snapshot: picks and guards the destination directory, loads the file index when
 * verification is possible, then extracts (extract.ts does the entry-by-entry safety).
 */
import { mkdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import type { TargetConfigOf } from "../../config/types";
import { HavenError, isHavenError } from "../../lib/errors";
import { errorProvesDamage } from "../../verify/damage";
import type { RestoreDestination, RestoreOptions, RunContext } from "../types";
import { restoresInPlace } from "../in-place";
import { extractTar, type ExtractStats } from "./extract";
import { readFileIndex, type FileIndexEntry } from "./file-index";
import { isEmptyDirectory, isMountPoint } from "./source-guard";

function destinationPath(config: TargetConfigOf<"files">, to: RestoreDestination): string {
  if (to.kind === "original") return resolve(config.path);
  if (to.kind === "path") return resolve(to.path);
  throw new HavenError("USAGE", `target ${config.name} is a files target: it restores into a directory`, {
    hint: "pass --to with a directory path",
  });
}

/**
 * Creates a missing destination; refuses a non-empty one unless forced. True when the restore starts
 * from nothing (created, or empty): no file of the operator's can be replaced.
 */
async function prepareDestination(destination: string, force: boolean): Promise<boolean> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(destination)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await mkdir(destination, { recursive: true });
    return true;
  }
  if (!isDirectory) {
    throw new HavenError("REFUSED", `restore destination ${destination} exists and is not a directory`, {
      hint: "choose a directory with --to",
    });
  }
  const empty = await isEmptyDirectory(destination);
  if (!force && !empty) {
    throw new HavenError(
      "REFUSED",
      `restore destination ${destination} is not empty; refusing to write into it`,
      {
        hint: "pass --force to write into it (entries with the same names are replaced), or restore into an empty directory with --to",
      },
    );
  }
  return empty;
}

/**
 * A restore into the share of a `mountpoint: true` target needs the share mounted. Otherwise, after
 * a disaster that took the NAS, it writes onto the local disk under the empty mount point, reports
 * success, and the data vanishes under the share when it is mounted again.
 */
async function assertShareMounted(config: TargetConfigOf<"files">, to: RestoreDestination): Promise<void> {
  // The mount table first: in the common case the share is mounted, and where the restore writes
  // (paths resolved, the mount table read again) need not be worked out.
  if (config.mountpoint !== true || (await isMountPoint(config.path).catch(() => false))) return;
  if (!(await restoresInPlace(config, to))) return;
  throw new HavenError(
    "REFUSED",
    `restore into ${config.path} refused: nothing is mounted there (targets.${config.name}.mountpoint is true)`,
    { hint: `mount the share at ${config.path} first, or restore elsewhere with --to` },
  );
}

/**
 * The file index, to check each file as it is written. A missing or damaged index does not stop a
 * restore that starts from nothing: the tar stream's sha256 (in the manifest) still proves every
 * byte, only the file-by-file checks are lost, and a warning says so. In a disaster the data object
 * may be all that is left. Over existing files it does stop it: there the index is what keeps a
 * damaged archive from replacing a good file (see extract.ts), so the hint says to restore elsewhere.
 */
async function loadIndex(
  options: RestoreOptions,
  fresh: boolean,
  run: RunContext,
): Promise<Map<string, FileIndexEntry> | undefined> {
  const openIndex = options.extra?.index;
  if (openIndex === undefined) return undefined;
  try {
    return await readFileIndex(await openIndex());
  } catch (error) {
    if (!isHavenError(error) || !errorProvesDamage(error)) throw error;
    if (!fresh) {
      throw new HavenError(
        error.code,
        `${error.message}; refusing to restore over existing files without it`,
        {
          cause: error,
          hint: "restore into an empty directory with --to: the data's own sha256 still proves every byte there; or restore another snapshot (haven snapshots TARGET)",
        },
      );
    }
    run.warn(
      `the snapshot's file index cannot be used (${error.message}): files are not checked one by one; the data's own sha256 still proves every byte`,
      { code: error.code },
    );
    return undefined;
  }
}

export async function restoreFiles(
  config: TargetConfigOf<"files">,
  body: Readable,
  to: RestoreDestination,
  run: RunContext,
  options: RestoreOptions = {},
): Promise<ExtractStats> {
  let destination: string;
  let expected: Map<string, FileIndexEntry> | undefined;
  try {
    destination = destinationPath(config, to);
    await assertShareMounted(config, to);
    const fresh = await prepareDestination(destination, options.force === true);
    expected = await loadIndex(options, fresh, run);
    await options.beforeWrite?.();
  } catch (error) {
    body.destroy();
    throw error;
  }
  run.logger.info(
    { destination, include: options.include, verify: expected !== undefined },
    "restoring files",
  );
  return extractTar(body, { destination, run, include: options.include, expected });
}
