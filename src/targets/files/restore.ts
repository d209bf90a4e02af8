/**
 * Restore of a files snapshot: picks and guards the destination directory, loads the file index when
 * verification is possible, then extracts (extract.ts does the entry-by-entry safety).
 */
import { mkdir, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import type { TargetConfigOf } from "../../config/types";
import { HavenError } from "../../lib/errors";
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

/** Creates a missing destination; refuses a non-empty one unless forced. */
async function prepareDestination(destination: string, force: boolean): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(destination)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await mkdir(destination, { recursive: true });
    return;
  }
  if (!isDirectory) {
    throw new HavenError("REFUSED", `restore destination ${destination} exists and is not a directory`, {
      hint: "choose a directory with --to",
    });
  }
  if (!force && !(await isEmptyDirectory(destination))) {
    throw new HavenError(
      "REFUSED",
      `restore destination ${destination} is not empty; refusing to write into it`,
      {
        hint: "pass --force to write into it (entries with the same names are replaced), or restore into an empty directory with --to",
      },
    );
  }
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

async function loadIndex(options: RestoreOptions): Promise<Map<string, FileIndexEntry> | undefined> {
  const openIndex = options.extra?.index;
  return openIndex === undefined ? undefined : readFileIndex(await openIndex());
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
    await prepareDestination(destination, options.force === true);
    expected = await loadIndex(options);
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
