/**
 * Archive entry names as restore sees them: checked before anything touches the disk. A name is
 * reduced to a path relative to the restore directory, or refused with the reason an operator reads.
 */
import picomatch from "picomatch";

export type EntryPath = { ok: true; path: string } | { ok: false; reason: string };

/**
 * `""` is the archive root itself. Refuses absolute names, any `..` segment and NUL bytes; drops
 * empty and `.` segments (`./a//b/` is `a/b`). Never consults the file system.
 */
export function normalizeEntryPath(name: string): EntryPath {
  if (name.includes("\0")) return { ok: false, reason: "name contains a NUL byte" };
  if (name.startsWith("/"))
    return { ok: false, reason: "absolute path (would write outside the destination)" };
  const segments = name.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.includes(".."))
    return { ok: false, reason: "'..' in path (would write outside the destination)" };
  return { ok: true, path: segments.join("/") };
}

/** The parent directories of a relative path, outermost first: `a/b/c` → `a`, `a/b`. */
export function parentPaths(path: string): string[] {
  const segments = path.split("/");
  const parents: string[] = [];
  for (let i = 1; i < segments.length; i++) parents.push(segments.slice(0, i).join("/"));
  return parents;
}

/**
 * A predicate for `--include` globs (picomatch, dotfiles matched): a path is included when it or one
 * of its parent directories matches, so `docs` restores the whole `docs` tree. No patterns: everything.
 */
export function includeMatcher(patterns: readonly string[] | undefined): (path: string) => boolean {
  if (patterns === undefined || patterns.length === 0) return () => true;
  const matches = picomatch([...patterns], { dot: true });
  return (path) => matches(path) || parentPaths(path).some((parent) => matches(parent));
}
