/**
 * Compares two directory trees entry by entry (type, permission bits, mtime to the second, size,
 * symlink target, content sha256). Used by the demo and the tests to prove a restore is exact.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";

interface TreeEntry {
  type: "file" | "directory" | "symlink" | "other";
  mode: number;
  mtimeSeconds: number;
  size: number;
  linkTarget?: string;
}

export async function listTree(root: string): Promise<Map<string, TreeEntry>> {
  const entries = new Map<string, TreeEntry>();
  const visit = async (rel: string) => {
    const names = await readdir(rel === "" ? root : join(root, rel));
    for (const name of names.sort()) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const abs = join(root, childRel);
      const stat = await lstat(abs);
      const type = stat.isFile()
        ? "file"
        : stat.isDirectory()
          ? "directory"
          : stat.isSymbolicLink()
            ? "symlink"
            : "other";
      const entry: TreeEntry = {
        type,
        mode: stat.mode & 0o7777,
        mtimeSeconds: Math.floor(stat.mtimeMs / 1000),
        size: type === "file" ? stat.size : 0,
      };
      if (type === "symlink") entry.linkTarget = await readlink(abs);
      entries.set(childRel, entry);
      if (type === "directory") await visit(childRel);
    }
  };
  await visit("");
  return entries;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Every difference between the trees under `a` and `b` (not the roots themselves): missing paths,
 * type, permission bits (not for symlinks), mtime to the second, size, symlink target and content.
 * Empty when they are identical.
 */
export async function compareTrees(a: string, b: string): Promise<string[]> {
  const [left, right] = await Promise.all([listTree(a), listTree(b)]);
  const differences: string[] = [];
  const paths = [...new Set([...left.keys(), ...right.keys()])].sort();
  for (const path of paths) {
    const x = left.get(path);
    const y = right.get(path);
    if (x === undefined || y === undefined) {
      differences.push(`${path}: only in ${x === undefined ? b : a}`);
      continue;
    }
    if (x.type !== y.type) {
      differences.push(`${path}: type ${x.type} vs ${y.type}`);
      continue;
    }
    if (x.type !== "symlink" && x.mode !== y.mode) {
      differences.push(`${path}: mode ${x.mode.toString(8)} vs ${y.mode.toString(8)}`);
    }
    if (x.mtimeSeconds !== y.mtimeSeconds) {
      differences.push(
        `${path}: mtime ${new Date(x.mtimeSeconds * 1000).toISOString()} vs ${new Date(y.mtimeSeconds * 1000).toISOString()}`,
      );
    }
    if (x.linkTarget !== y.linkTarget)
      differences.push(`${path}: link target ${x.linkTarget} vs ${y.linkTarget}`);
    if (x.size !== y.size) differences.push(`${path}: size ${x.size} vs ${y.size}`);
    else if (x.type === "file" && (await sha256Of(join(a, path))) !== (await sha256Of(join(b, path)))) {
      differences.push(`${path}: content differs`);
    }
  }
  return differences;
}
