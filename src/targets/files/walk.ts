/**
 * Walks a directory tree in a stable order (depth first, names sorted within each directory) without
 * following symbolic links, skipping excluded paths. Directories are read lazily, one at a time, so
 * memory holds only the listings along the current path, whatever the size of the tree.
 *
 * Names are read as bytes. One that is not UTF-8 (a Latin-1 name on an old SMB or NFS share) is
 * reported and left out: read as a string it would become another name (U+FFFD for each bad byte),
 * which the archiver could only find missing ("vanished"), or, were a file of that other name
 * there, archive twice in its place. Archives and the index hold UTF-8 names.
 */
import { isUtf8 } from "node:buffer";
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
  /** Lists a directory (blocking or not: see source-io.ts), names as bytes. */
  readdir(abs: string): Dirent<Buffer>[] | Promise<Dirent<Buffer>[]>;
  /** Called when a directory below the root cannot be listed; the walk goes on without its contents. */
  onUnreadableDirectory(entry: WalkEntry, error: NodeJS.ErrnoException): void;
  /**
   * Called for an entry whose name is not UTF-8, with its path shown as `shownRel` (each byte that is
   * not UTF-8 as \xHH); the walk goes on without it (and, for a directory, its contents).
   */
  onNameNotUtf8(shownRel: string, kind: WalkKind): void;
}

interface Listed {
  name: string;
  kind: WalkKind;
}

/** A name to show in a message: printable ASCII as it is, other bytes as \xHH. */
export function showName(bytes: Buffer): string {
  let shown = "";
  for (const byte of bytes) {
    shown +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return shown;
}

/** A predicate for exclude globs; matches nothing when there are no patterns. */
export function excludeMatcher(patterns: readonly string[]): (rel: string) => boolean {
  if (patterns.length === 0) return () => false;
  return picomatch([...patterns], { dot: true });
}

function kindOf(dirent: Dirent<Buffer>): WalkKind {
  if (dirent.isFile()) return "file";
  if (dirent.isDirectory()) return "directory";
  if (dirent.isSymbolicLink()) return "symlink";
  return "other";
}

/** Plain code-unit order: stable across runs and machines, unlike localeCompare. */
function byName(a: Listed, b: Listed): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

async function listSorted(options: WalkOptions, abs: string, rel: string): Promise<Listed[]> {
  const listed: Listed[] = [];
  for (const dirent of await options.readdir(abs)) {
    const kind = kindOf(dirent);
    if (isUtf8(dirent.name)) listed.push({ name: dirent.name.toString("utf8"), kind });
    else options.onNameNotUtf8(rel === "" ? showName(dirent.name) : `${rel}/${showName(dirent.name)}`, kind);
  }
  return listed.sort(byName);
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
    entries: Listed[];
    next: number;
  }
  const stack: Level[] = [{ rel: "", abs: root, entries: await listSorted(options, root, ""), next: 0 }];
  while (stack.length > 0) {
    const level = stack[stack.length - 1] as Level;
    const listed = level.entries[level.next++];
    if (listed === undefined) {
      stack.pop();
      continue;
    }
    const rel = level.rel === "" ? listed.name : `${level.rel}/${listed.name}`;
    const { kind } = listed;
    // A directory also matches patterns written with a trailing slash ("cache/").
    if (isExcluded(rel) || (kind === "directory" && isExcluded(`${rel}/`))) continue;
    const entry: WalkEntry = { rel, abs: join(level.abs, listed.name), kind };
    yield entry;
    if (entry.kind !== "directory") continue;
    try {
      stack.push({ rel, abs: entry.abs, entries: await listSorted(options, entry.abs, rel), next: 0 });
    } catch (error) {
      options.onUnreadableDirectory(entry, error as NodeJS.ErrnoException);
    }
  }
}
