/**
 * Building blocks of the manual restore recipes written into manifests: the shell pipeline that turns
 * a stored object back into its plain stream with standard tools (age, zstd, gzip) alone.
 */
import { posix } from "node:path";

export interface RecipePayload {
  /** Object key relative to the destination prefix. */
  key: string;
  compression: string;
  encrypted: boolean;
}

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The first recipe lines: where the object comes from, and checking it against the manifest. */
export function fetchSteps(payload: RecipePayload): string[] {
  return [
    `# copy the object ${payload.key} (under the destination's prefix) into the current directory; its sha256 must be the manifest's payload sha256:`,
    `sha256sum ${shellQuote(posix.basename(payload.key))}`,
  ];
}

/**
 * A command that writes the plain payload to stdout, e.g.
 * `age -d -i "$AGE_IDENTITY_FILE" data.pgdump.zst.age | zstd -dc`.
 */
export function plainStreamCommand(payload: RecipePayload): string {
  const file = shellQuote(posix.basename(payload.key));
  const decompress =
    payload.compression === "zstd" ? "zstd -dc" : payload.compression === "gzip" ? "gzip -dc" : undefined;
  if (payload.encrypted) {
    const decrypt = `age -d -i "$AGE_IDENTITY_FILE" ${file}`;
    return decompress ? `${decrypt} | ${decompress}` : decrypt;
  }
  return decompress ? `${decompress} ${file}` : `cat ${file}`;
}
