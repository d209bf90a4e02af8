/**
 * The mount table of this process (`/proc/self/mountinfo`), for the checks that paths alone get
 * wrong: whether a share is mounted at all (files/source-guard.ts), and whether two paths are the
 * same place seen through a bind mount (in-place.ts).
 */
import { readFile } from "node:fs/promises";
import { posix } from "node:path";

export interface Mount {
  /** `major:minor` of the file system. */
  device: string;
  /** The folder of that file system shown here: `/` for a whole file system, a subfolder for a bind mount. */
  root: string;
  /** Where it is shown. */
  point: string;
}

/** `\040` and the like, as mountinfo escapes spaces, tabs, newlines and backslashes. */
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mounts in mount order; undefined where /proc is not there (not Linux, a bare container). */
export async function readMounts(): Promise<Mount[] | undefined> {
  let text: string;
  try {
    text = await readFile("/proc/self/mountinfo", "utf8");
  } catch {
    return undefined;
  }
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const [, , device, root, point] = line.split(" ");
    if (device === undefined || root === undefined || point === undefined) continue;
    mounts.push({ device, root: unescapeField(root), point: unescapeField(point) });
  }
  return mounts;
}

/** Whether the absolute path `path` is `folder` or below it (`/srv/share-copy` is not below `/srv/share`). */
export function isSameOrBelow(path: string, folder: string): boolean {
  return folder === "/" || path === folder || path.startsWith(folder.endsWith("/") ? folder : folder + "/");
}

/**
 * The file system an absolute, symlink-free path lives on and the path inside it: the mount whose
 * point is the longest prefix of `path` (the last one mounted, when several share that point).
 */
export function locate(
  path: string,
  mounts: readonly Mount[],
): { device: string; inner: string } | undefined {
  let best: Mount | undefined;
  for (const mount of mounts) {
    if (!isSameOrBelow(path, mount.point)) continue;
    if (best === undefined || mount.point.length >= best.point.length) best = mount;
  }
  if (best === undefined) return undefined;
  return { device: best.device, inner: posix.join(best.root, posix.relative(best.point, path)) };
}
