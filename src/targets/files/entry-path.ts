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

/** An `--include` filter: which paths it takes, and which of its patterns took none. */
export interface IncludeFilter {
  (path: string): boolean;
  /** The patterns (as given) that matched no path tested so far. */
  unmatched(): string[];
}

/**
 * `--include` globs (picomatch, dotfiles matched): a path is included when it or one of its parent
 * directories matches, so `docs` restores the whole `docs` tree. Patterns are relative to the share
 * root: a leading `/` or `./` and a trailing `/` are dropped (`/docs/` is `docs`). No patterns:
 * everything. Each pattern's matches are tracked, so a restore can say which took nothing (as tar
 * says "Not found in archive") instead of reporting success for 0 files.
 */
export function includeMatcher(patterns: readonly string[] | undefined): IncludeFilter {
  if (patterns === undefined || patterns.length === 0)
    return Object.assign(() => true, { unmatched: () => [] });
  const each = patterns.map((pattern) => ({
    pattern,
    matches: picomatch(normalizePattern(pattern), { dot: true }),
    used: false,
  }));
  const filter = (path: string): boolean => {
    let included = false;
    const candidates = [path, ...parentPaths(path)];
    for (const entry of each) {
      if (entry.used && included) continue;
      if (candidates.some((candidate) => entry.matches(candidate))) {
        entry.used = true;
        included = true;
      }
    }
    return included;
  };
  return Object.assign(filter, {
    unmatched: () => each.filter((entry) => !entry.used).map((entry) => entry.pattern),
  });
}

function normalizePattern(pattern: string): string {
  const trimmed = pattern.replace(/^(\.\/|\/)+/, "").replace(/\/+$/, "");
  return trimmed === "" ? "**" : trimmed;
}
