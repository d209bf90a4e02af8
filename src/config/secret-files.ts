/**
 * `<key>File` twins: `passwordFile: /run/secrets/pg` fills `password` from that file, so secrets need not
 * stand in the YAML (docker and systemd credentials work this way). A twin is honoured where the schema
 * declares both `<key>` and `<key>File` for a key of SECRET_KEYS; elsewhere a `...File` key is an
 * ordinary path (e.g. `encryption.identityFile`, read only where restores run).
 */
import { resolve } from "node:path";
import { readPrivateFileSync } from "../lib/private-file";
import type { z } from "zod";
import type { IssueCollector } from "./issues";
import { SECRET_KEYS } from "./schema";
import { childSchema, objectSchemaFor } from "./schema-walk";

/** Secrets are short; a bigger file is a wrong path (a dump, a device), not a secret. */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads every `<key>File` twin in `data` (the parsed YAML, mutated in place: `<key>` receives the file's
 * text, trailing newlines removed; the zod schema then makes it a Secret). Relative paths resolve
 * against `baseDir`, the config file's directory. Problems go to `issues`.
 */
export function resolveSecretFiles(
  data: unknown,
  schema: z.ZodType,
  baseDir: string,
  issues: IssueCollector,
): void {
  // An anchored mapping used twice is one object: read its files once, or the second visit sees both keys.
  const visited = new WeakSet<object>();

  const visit = (value: unknown, valueSchema: z.ZodType, path: Array<string | number>): void => {
    if (typeof value !== "object" || value === null || visited.has(value)) return;
    visited.add(value);

    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        const itemSchema = childSchema(valueSchema, value, index);
        if (itemSchema) visit(item, itemSchema, [...path, index]);
      });
      return;
    }

    const record = value as Record<string, unknown>;
    const objectSchema = objectSchemaFor(valueSchema, record);
    if (objectSchema) fillTwins(record, Object.keys(objectSchema.shape), baseDir, path, issues);

    for (const [key, child] of Object.entries(record)) {
      const grandChild = childSchema(valueSchema, record, key);
      if (grandChild) visit(child, grandChild, [...path, key]);
    }
  };

  visit(data, schema, []);
}

function fillTwins(
  record: Record<string, unknown>,
  knownKeys: string[],
  baseDir: string,
  path: Array<string | number>,
  issues: IssueCollector,
): void {
  for (const key of SECRET_KEYS) {
    const twin = `${key}File`;
    if (!knownKeys.includes(key) || !knownKeys.includes(twin)) continue;
    const file = record[twin];
    if (typeof file !== "string" || file === "") continue; // the schema reports the wrong type

    if (record[key] !== undefined) {
      issues.atPath([...path, twin], `set either ${key} or ${twin}, not both`, "key");
      continue;
    }
    const absolute = resolve(baseDir, file);
    const read = readSecretFile(absolute);
    if (typeof read === "string") {
      record[key] = read;
    } else {
      issues.atPath([...path, twin], `cannot use secret file ${absolute}: ${read.problem}`);
    }
  }
}

/** The file's text without trailing newlines, or why it cannot be a secret. */
function readSecretFile(file: string): string | { problem: string } {
  let text: string;
  try {
    text = readPrivateFileSync(file, MAX_SECRET_BYTES).text.replace(/[\r\n]+$/, "");
  } catch (error) {
    return { problem: describeFsError(error) };
  }
  return text === "" ? { problem: "the file is empty" } : text;
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES" || code === "EPERM")
    return "permission denied (is it readable by the user haven runs as?)";
  if (code === "EISDIR") return "is a directory";
  if (code === "ENOTREG") return "not a regular file (a FIFO, a socket or a device)";
  if (code === "EFBIG") return `larger than ${MAX_SECRET_BYTES} bytes, not a secret`;
  return error instanceof Error ? error.message : String(error);
}
