/**
 * The manual restore recipe of a files snapshot, written into its manifest: how to get the files back
 * with standard tools alone (age, zstd or gzip, tar) when Haven itself is not available.
 */
import { posix } from "node:path";

export interface RecipePayload {
  /** Object key of the main payload, relative to the destination's prefix. */
  key: string;
  compression: string;
  encrypted: boolean;
}

const DECOMPRESS: Record<string, string | undefined> = { zstd: "zstd -d", gzip: "gzip -d", none: undefined };

/** Single-quotes a word for sh when it holds anything beyond a safe set. */
function shellWord(word: string): string {
  return /^[\w./+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function filesRecipe(payload: RecipePayload): string[] {
  const file = shellWord(posix.basename(payload.key));
  const decompress = DECOMPRESS[payload.compression];
  const stages: string[] = [];
  if (payload.encrypted) stages.push(`age -d -i key.txt < ${file}`);
  if (decompress !== undefined) stages.push(payload.encrypted ? decompress : `${decompress} < ${file}`);
  const untar = "tar -xpf - -C /restore/dir";
  const pipeline = stages.length === 0 ? `tar -xpf ${file} -C /restore/dir` : [...stages, untar].join(" | ");
  return [
    `# download ${payload.key} from the destination (under its prefix), then check its sha256 against manifest.json:`,
    `sha256sum ${file}`,
    "mkdir -p /restore/dir",
    pipeline,
  ];
}
