/**
 * A printable view of a loaded config, for `haven plan` and other summaries an operator reads: secrets
 * read "[redacted]" and durations read as an operator writes them ("1d 2h"), not as milliseconds.
 */
import { stringify } from "yaml";
import type { z } from "zod";
import { formatDuration } from "../lib/duration";
import { redacted, Secret } from "../lib/secret";
import { configSchema, SECRET_KEYS } from "./schema";
import { childSchema, isDurationSchema } from "./schema-walk";
import type { HavenConfig } from "./types";

const secretKeys: ReadonlySet<string> = new Set(SECRET_KEYS);

/** Plain data (JSON- and YAML-safe) mirroring `config`, with every secret redacted. */
export function describeConfig(config: HavenConfig): Record<string, unknown> {
  return toView(config, configSchema, undefined) as Record<string, unknown>;
}

/** `describeConfig` as YAML text. */
export function formatConfig(config: HavenConfig): string {
  return stringify(describeConfig(config), { lineWidth: 0 });
}

function toView(value: unknown, schema: z.ZodType | undefined, key: string | undefined): unknown {
  if (value instanceof Secret) return redacted;
  // Defence in depth: a secret key holding plain text (a schema change that forgot Secret) still hides it.
  if (typeof value === "string" && key !== undefined && secretKeys.has(key)) return redacted;
  if (typeof value === "number" && schema && isDurationSchema(schema)) return formatDuration(value);
  if (Array.isArray(value)) {
    return value.map((item, index) => toView(item, schema && childSchema(schema, value, index), undefined));
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, child]) => child !== undefined);
    return Object.fromEntries(
      entries.map(([childKey, child]) => [
        childKey,
        toView(child, schema && childSchema(schema, value, childKey), childKey),
      ]),
    );
  }
  return value;
}
