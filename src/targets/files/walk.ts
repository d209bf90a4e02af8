/**
 * Walks a directory tree in a stable order (depth first, names sorted within each directory) without
 * following symbolic links, skipping excluded paths. Directories are read lazily, one at a time, so
 * memory holds only the listings along the current path, whatever the size of the tree.
 */
import type { Dirent } from "node:fs";
import { join } from "node:path";
import picomatch from "picomatch";

/** What the directory listing said an entry is; the archiver confirms it with its own stat. */
export type WalkKind = "file" | "directory" | "symlink" | "other";

export interface WalkEntry {
  /** Path relative to the root, "/"-separated, never starting with "/" or "./". */
  rel: string;
  abs: string;
  kind: WalkKind;
}

export interface WalkOptions {
  /** Glob patterns relative to the root (picomatch, dotfiles matched). An excluded directory is pruned. */
  exclude: readonly string[];
  /** Lists a directory (blocking or not: see source-io.ts). */
  readdir(abs: string): Dirent[] | Promise<Dirent[]>;
  /** Called when a directory below the root cannot be listed; the walk goes on without its contents. */
  onUnreadableDirectory(entry: WalkEntry, error: NodeJS.ErrnoException): void;
}

/** A predicate for exclude globs; matches nothing when there are no patterns. */
export function excludeMatcher(patterns: readonly string[]): (rel: string) => boolean {
  if (patterns.length === 0) return () => false;
  return picomatch([...patterns], { dot: true });
}

function kindOf(dirent: Dirent): WalkKind {
  if (dirent.isFile()) return "file";
  if (dirent.isDirectory()) return "directory";
  if (dirent.isSymbolicLink()) return "symlink";
  return "other";
}

/** Plain code-unit order: stable across runs and machines, unlike localeCompare. */
function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

async function listSorted(options: WalkOptions, abs: string): Promise<Dirent[]> {
  const entries = await options.readdir(abs);
  return entries.sort(byName);
}

/**
 * Yields every entry below `root` (not the root itself), each directory before its contents.
 * Rejects only when the root itself cannot be listed.
 */
export async function* walkTree(root: string, options: WalkOptions): AsyncGenerator<WalkEntry> {
  const isExcluded = excludeMatcher(options.exclude);
  interface Level {
    rel: string;
    abs: string;
    entries: Dirent[];
    next: number;
  }
  const stack: Level[] = [{ rel: "", abs: root, entries: await listSorted(options, root), next: 0 }];
  while (stack.length > 0) {
    const level = stack[stack.length - 1] as Level;
    const dirent = level.entries[level.next++];
    if (dirent === undefined) {
      stack.pop();
      continue;
    }
    const rel = level.rel === "" ? dirent.name : `${level.rel}/${dirent.name}`;
    const kind = kindOf(dirent);
    // A directory also matches patterns written with a trailing slash ("cache/").
    if (isExcluded(rel) || (kind === "directory" && isExcluded(`${rel}/`))) continue;
    const entry: WalkEntry = { rel, abs: join(level.abs, dirent.name), kind };
    yield entry;
    if (entry.kind !== "directory") continue;
    try {
      stack.push({ rel, abs: entry.abs, entries: await listSorted(options, entry.abs), next: 0 });
    } catch (error) {
      options.onUnreadableDirectory(entry, error as NodeJS.ErrnoException);
    }
  }
}
