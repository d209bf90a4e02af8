/**
 * From the parsed config to the domain types: each target gets its name and its values from `defaults`
 * where it gives none; each destination gets its name.
 *
 * How a target's own value combines with `defaults`:
 * - `destinations`, `retention`, `rpo`, `rto`: the target's value replaces the default entirely (a
 *   retention policy is read as a whole; merging `last: 3` into `daily: 7` would keep far more than 3);
 * - `compression`, `verify`: key by key; the keys the target writes override those of `defaults`, the
 *   others come from `defaults` (not from the schema's own defaults).
 */
import { resolve } from "node:path";
import type { ParsedConfig, RawTargetConfig } from "./schema";
import type { HavenConfig, NamedDestination, TargetConfig } from "./types";

type Defaults = ParsedConfig["defaults"];

/**
 * `raw` is the data before schema defaults were applied: it tells which keys the author wrote.
 * Callers have checked that every target has a destination (here or in defaults).
 */
export function resolveConfig(
  parsed: ParsedConfig,
  raw: unknown,
  source: string,
  sha256: string,
  baseDir: string,
): HavenConfig {
  const { destinations, targets, encryption, ...rest } = parsed;
  const rawTargets = field(raw, "targets");

  return {
    ...rest,
    // Against the config's folder, as every *File path is: not wherever the command was started.
    ...(encryption
      ? {
          encryption: {
            ...encryption,
            ...(encryption.identityFile ? { identityFile: resolve(baseDir, encryption.identityFile) } : {}),
          },
        }
      : {}),
    source,
    sha256,
    destinations: Object.fromEntries(
      Object.entries(destinations).map(([name, destination]) => [name, nameDestination(name, destination)]),
    ),
    targets: Object.fromEntries(
      Object.entries(targets).map(([name, target]) => [
        name,
        resolveTarget(name, target, parsed.defaults, field(rawTargets, name)),
      ]),
    ),
  };
}

function resolveTarget(
  name: string,
  target: RawTargetConfig,
  defaults: Defaults,
  raw: unknown,
): TargetConfig {
  return {
    name,
    ...target,
    destinations: [...(target.destinations ?? defaults.destinations ?? [])],
    retention: target.retention ?? structuredClone(defaults.retention),
    rpo: target.rpo ?? defaults.rpo,
    rto: target.rto ?? defaults.rto,
    compression: overlay(defaults.compression, target.compression, field(raw, "compression")),
    verify: overlay(defaults.verify, target.verify, field(raw, "verify")),
  };
}

/** `base` with the keys the author wrote in `rawOwn` taken from `own` (its parsed form). */
function overlay<T extends object>(base: T, own: T | undefined, rawOwn: unknown): T {
  const result = structuredClone(base);
  if (own === undefined || typeof rawOwn !== "object" || rawOwn === null) return result;
  for (const key of Object.keys(rawOwn) as Array<keyof T>) {
    if (key in own) result[key] = own[key];
  }
  return result;
}

function nameDestination(name: string, destination: ParsedConfig["destinations"][string]): NamedDestination {
  if (
    destination.type === "s3" &&
    destination.forcePathStyle === undefined &&
    destination.endpoint !== undefined
  ) {
    // Documented default: S3-compatible services other than AWS mostly need path-style addressing.
    return { name, ...destination, forcePathStyle: true };
  }
  return { name, ...destination };
}

function field(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
