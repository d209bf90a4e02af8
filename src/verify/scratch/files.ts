/**
 * Files scratch place: a private temporary directory (`haven-verify-<target>-<time>-XXXXXX`, mode 0700,
 * names.ts) under
 * the OS temp dir, or under `verify.into` when that is an absolute path (a disk with room for the
 * share), never inside the share itself. The tar is extracted by the adapter's safe extractor; the checks then read the restored
 * tree back from disk: every file's size and sha256 against the snapshot's index, streamed line by
 * line (memory does not grow with the number of files), and the number of regular files.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdtemp, opendir, rm } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { TargetConfigOf } from "../../config/types";
import { HavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import { createAdapter } from "../../targets";
import { restoresInPlace } from "../../targets/in-place";
import type { FileIndexEntry } from "../../targets/files/file-index";
import type { RestoreStats } from "../../targets/types";
import {
  countCheck,
  fileCheckResult,
  fileTreeCheck,
  MISMATCHES_SHOWN,
  recordedNumber,
  type FileCheck,
  type FileMismatch,
} from "../checks";
import type { CheckResult } from "../record";
import { sweepFolders } from "./folder-sweep";
import { scratchDirPrefix, stampedDirPrefix } from "./names";
import type { ScratchPlace } from "./types";

/** Where scratch directories go: `verify.into` when it is an absolute path, else the OS temp dir. */
export function scratchParent(into: string | undefined): string {
  return into && isAbsolute(into) ? into : tmpdir();
}

/**
 * The scratch parent of a files target, refused inside the share (also through a link or bind mount):
 * the share's users would see a second copy of their files, and a backup meanwhile would archive it.
 */
async function scratchParentOutside(target: TargetConfigOf<"files">): Promise<string> {
  const parent = scratchParent(target.verify.into);
  if (await restoresInPlace(target, { kind: "path", path: parent })) {
    throw new HavenError(
      "REFUSED",
      `the scratch directory of ${target.name}'s restore test would be inside the share it verifies: ${parent} is inside ${target.path}`,
      {
        hint: `set targets.${target.name}.verify.into to an absolute path outside ${target.path}, on a disk with room for the share`,
      },
    );
  }
  return parent;
}

/**
 * Removes the target's scratch directories that crashed tests left (sweep.ts decides which), where the
 * next one is about to go. A parent inside the share is no place of Haven's: nothing is touched there.
 */
export async function sweepFilesScratch(
  target: TargetConfigOf<"files">,
  logger: Logger,
  now: Date = new Date(),
): Promise<string[]> {
  const parent = await scratchParentOutside(target).catch(() => undefined);
  return parent === undefined ? [] : sweepFolders(parent, scratchDirPrefix(target.name), logger, now);
}

export async function filesScratch(target: TargetConfigOf<"files">, logger: Logger): Promise<ScratchPlace> {
  const prefix = stampedDirPrefix(scratchDirPrefix(target.name), new Date());
  const directory = await mkdtemp(join(await scratchParentOutside(target), prefix));
  const adapter = createAdapter(target, logger);
  let rejected: NonNullable<RestoreStats["rejected"]> = [];

  return {
    description: `directory ${directory}`,
    directory,

    async restore(body, run, options) {
      // The index is checked against the tree on disk afterwards (a check with every mismatch, rather
      // than a restore that stops at the first), so the extractor does not verify as it writes.
      const { index: _index, ...extra } = options.extra ?? {};
      const stats = await adapter.restore(body, { kind: "path", path: directory }, run, {
        ...options,
        extra,
      });
      rejected = stats.rejected ?? [];
      return stats;
    },

    async builtInChecks({ manifest, openStream, signal }) {
      const checks: CheckResult[] = [];
      if (rejected.length > 0) {
        const shown = rejected.slice(0, MISMATCHES_SHOWN).map((r) => `${r.path}: ${r.reason}`);
        checks.push({
          name: "files: archive entries refused",
          ok: false,
          expected: 0,
          actual: rejected.length,
          detail: shown.join("; "),
        });
      }
      const index = await openStream("index");
      if (index) checks.push(await compareWithIndex(directory, index, signal));
      const expectedFiles = recordedNumber(manifest.stats, "files");
      if (expectedFiles !== undefined) {
        checks.push(
          countCheck("files: regular files", expectedFiles, await countRegularFiles(directory, signal)),
        );
      }
      return checks;
    },

    async cleanup() {
      await rm(directory, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

/** Checks every regular file of the index against the restored tree, reading the index as it streams. */
async function compareWithIndex(root: string, index: Readable, signal: AbortSignal): Promise<CheckResult> {
  const mismatches: FileMismatch[] = [];
  let total = 0;
  let checked = 0;
  try {
    for await (const line of createInterface({ input: index, crlfDelay: Infinity })) {
      signal.throwIfAborted();
      if (line === "") continue;
      const entry = JSON.parse(line) as FileIndexEntry;
      if (entry.type !== "file") continue;
      checked++;
      const reason = await mismatchOf(root, entry);
      if (reason === undefined) continue;
      total++;
      if (mismatches.length < MISMATCHES_SHOWN) mismatches.push({ path: entry.path, reason });
    }
  } finally {
    // readline does not close its input when the loop ends early: the index read (and its zstd
    // child) would stay open.
    index.destroy();
  }
  return fileTreeCheck(checked, mismatches, total);
}

async function mismatchOf(root: string, entry: FileIndexEntry): Promise<string | undefined> {
  const path = join(root, ...entry.path.split("/"));
  let stats;
  try {
    stats = await lstat(path);
  } catch {
    return "missing";
  }
  if (!stats.isFile()) return "not a regular file";
  if (stats.size !== entry.size) return `size ${stats.size}, expected ${entry.size}`;
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  const actual = hash.digest("hex");
  return actual === entry.sha256 ? undefined : `sha256 ${actual}, expected ${entry.sha256}`;
}

/** Regular files under `root` (symbolic links are not followed). */
async function countRegularFiles(root: string, signal: AbortSignal): Promise<number> {
  let count = 0;
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    signal.throwIfAborted();
    for await (const entry of await opendir(dir)) {
      if (entry.isFile()) count++;
      else if (entry.isDirectory()) pending.push(join(dir, entry.name));
    }
  }
  return count;
}

/** A YAML `file` check, relative to the restored directory; a path leading outside it fails. */
export async function checkFile(root: string, check: FileCheck): Promise<CheckResult> {
  const path = resolve(root, check.file.replace(/^\/+/, ""));
  const rel = relative(root, path);
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    return { ...fileCheckResult(check, null), detail: "the path leads outside the restored directory" };
  }
  try {
    const stats = await lstat(path);
    return fileCheckResult(check, { size: stats.size, regular: stats.isFile() });
  } catch {
    return fileCheckResult(check, null);
  }
}
