/**
 * The manifest: the self-describing record of one snapshot, written last. Its existence is the
 * snapshot. Readers MUST check `formatVersion` and refuse versions they do not know.
 */
import { z } from "zod";

export const MANIFEST_FORMAT_VERSION = 1;

const storedObject = z.object({
  /** Key relative to the destination prefix. */
  key: z.string(),
  /** Name of the payload stream ("data", "index", "globals"). */
  stream: z.string(),
  /** Format of the plain stream ("tar", "pgdump", "jsonl", ...). */
  format: z.string(),
  /** Bytes and sha256 as stored (after compression and encryption). */
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Bytes and sha256 of the plain stream (before compression and encryption). */
  plainSize: z.number().int().nonnegative(),
  plainSha256: z.string().regex(/^[0-9a-f]{64}$/),
  compression: z.enum(["zstd", "gzip", "none"]),
  encryption: z
    .object({
      format: z.literal("age-v1"),
      /** sha256 fingerprints of the recipients' public keys (never a secret). */
      recipients: z.array(z.string()),
    })
    .nullable(),
});
export type StoredObject = z.infer<typeof storedObject>;

export const runStates = ["committed", "partial"] as const;

export const manifestSchema = z.object({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  id: z.string(),
  target: z.string(),
  targetType: z.string(),
  tiers: z.array(z.enum(["daily", "weekly", "monthly", "manual"])),
  /**
   * committed: the source was read completely and consistently; usable.
   * partial: usable, but `warnings` lists files that changed or vanished while read.
   * (Failed runs write no manifest at all.)
   */
  state: z.enum(runStates),
  startedAt: z.string(),
  finishedAt: z.string(),
  /** Server and tool versions, host name. */
  source: z.record(z.string(), z.string()),
  payload: z.array(storedObject).min(1),
  stats: z.record(z.string(), z.unknown()),
  warnings: z.array(z.string()),
  /** The manual recipe: shell commands that restore this snapshot with standard tools alone. */
  restore: z.array(z.string()),
  haven: z.object({ version: z.string() }),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** The main payload object of a snapshot (the one restores read). */
export function mainObject(manifest: Manifest): StoredObject {
  const main = manifest.payload.find((o) => o.stream === "data") ?? manifest.payload[0];
  if (!main) throw new Error(`manifest ${manifest.id} has no payload`);
  return main;
}
