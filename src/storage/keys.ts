/**
 * Object keys as every backend accepts them. A key is checked before it reaches S3 or the disk, so a
 * key built from untrusted text (a target name, a snapshot id read back from a bucket) can never
 * address a file outside a filesystem destination's root, and both backends refuse the same keys.
 */
import { HavenError } from "../lib/errors";

/** S3's limit on a key, in UTF-8 bytes; the filesystem backend keeps to it too. */
const MAX_KEY_BYTES = 1024;

/**
 * Throws HavenError("PERMANENT") unless `key` is a relative, slash-separated name whose segments are
 * all non-empty and none of which is "." or "..", with no backslash and no NUL.
 */
export function assertValidKey(key: string, destination: string): void {
  const problem = keyProblem(key);
  if (problem) throw invalidKey(key, destination, problem);
}

/**
 * List prefixes may end in "/" or in a partial segment ("orders-db/2026"); only the directory part
 * (up to the last "/") has to be a valid key, because only that part is ever resolved as a path.
 */
export function assertValidPrefix(prefix: string, destination: string): void {
  if (prefix === "") return;
  const problem = charProblem(prefix) ?? (prefix.includes("/") ? keyProblem(directoryOf(prefix)) : undefined);
  if (problem) throw invalidKey(prefix, destination, problem);
}

/** The part of a prefix up to and without its last "/" ("" when there is none). */
export function directoryOf(prefix: string): string {
  const slash = prefix.lastIndexOf("/");
  return slash < 0 ? "" : prefix.slice(0, slash);
}

/**
 * Orders keys the way S3 lists them: by the UTF-8 bytes, which is code point order. JavaScript's
 * `<` compares UTF-16 code units, which differs for characters beyond U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function keyProblem(key: string): string | undefined {
  if (key === "") return "it is empty";
  const chars = charProblem(key);
  if (chars) return chars;
  if (key.startsWith("/")) return "it is absolute (starts with /)";
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`;
  for (const segment of key.split("/")) {
    if (segment === "") return "it has an empty segment (// or a trailing /)";
    if (segment === "." || segment === "..") return `it has a "${segment}" segment`;
  }
  return undefined;
}

function charProblem(text: string): string | undefined {
  if (text.includes("\\")) return "it holds a backslash";
  if (text.includes("\0")) return "it holds a NUL character";
  if (text.startsWith("/")) return "it is absolute (starts with /)";
  return undefined;
}

function invalidKey(key: string, destination: string, problem: string): HavenError {
  return new HavenError(
    "PERMANENT",
    `refusing object key ${JSON.stringify(key)} on ${destination}: ${problem}`,
    {
      hint: "object keys are relative slash-separated names without . or .. segments; this is a bug in the caller or a tampered listing, please report it",
    },
  );
}
