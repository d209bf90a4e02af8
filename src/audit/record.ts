/**
 * The audit record: who did what, to which target and snapshot, when, from where, and how it ended.
 *
 * Glossary
 * - record: one JSON object under `_audit/`, written once and never changed.
 * - chain: the records in order; each carries `prevSha256`, the `sha256` of the record before it (null
 *   for the first), so removing, altering or reordering records breaks a link that `verify` finds.
 * - seq: a record's 1-based position in the chain; it also orders records written in the same second.
 * - sha256: hex sha256 of the record's canonical JSON (see canonical-json.ts) without `sha256` itself.
 * - head: the newest record; `_audit/HEAD.json` points at it (see head.ts).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "./canonical-json";
import type { JsonValue } from "./redact";

export const AUDIT_FORMAT_VERSION = 1;

/**
 * What was done. Operator actions (backup now, restore start and outcome, verify, prune, config
 * reload, key check, break-glass, restore requests and approvals) and automatic destructive ones (`prune-delete`: one
 * snapshot removed by retention). Readers accept any kebab-case action, so newer Havens may add some.
 */
export const AUDIT_ACTIONS = [
  "backup",
  "restore-start",
  "restore",
  "verify",
  "prune",
  "prune-delete",
  "copy",
  "config-reload",
  "keys-check",
  "break-glass",
  "request",
  "approve",
] as const;
export type KnownAuditAction = (typeof AUDIT_ACTIONS)[number];
export type AuditAction = KnownAuditAction | (string & {});

/**
 * How it ended. `partial`: done, but some of it was refused (a restore's unsafe archive entries);
 * `refused`: a guard rail or a permission check stopped it; `requested`: a restore request waits
 * for approval.
 */
export const AUDIT_OUTCOMES = ["ok", "partial", "failed", "refused", "requested"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Who acted, and from where. */
export interface AuditActor {
  /** The OS user of the process that acted ("haven" for the service's own automatic actions). */
  user: string;
  /** The operator name established by a token or `--as`; absent on installs without `operators:`. */
  identity?: string;
  /** The host the action ran on. */
  host: string;
}

export interface AuditRecord {
  formatVersion: number;
  /** `<seq, 10 digits>-<8 hex>`; with `at` it makes the object key (layout.audit). */
  id: string;
  seq: number;
  /** ISO 8601, UTC. Never earlier than the previous record's (see AuditLog.append). */
  at: string;
  actor: AuditActor;
  action: AuditAction;
  target?: string;
  snapshot?: string;
  outcome: AuditOutcome;
  /** Facts about the action, redacted (redact.ts): never a secret. */
  detail: Record<string, JsonValue>;
  /** sha256 of the previous record; null for the first record of the chain. */
  prevSha256: string | null;
  sha256: string;
}

const SHA256 = /^[0-9a-f]{64}$/;
const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);

/** What a stored record must look like to be read at all (the chain checks come on top). */
export const auditRecordSchema = z.strictObject({
  formatVersion: z.number().int().min(1),
  id: z.string().regex(/^\d{10}-[0-9a-f]{8}$/),
  seq: z.number().int().min(1),
  at: z.iso.datetime(),
  actor: z.strictObject({ user: z.string(), identity: z.string().optional(), host: z.string() }),
  action: z.string().regex(/^[a-z][a-z0-9-]*$/),
  target: z.string().optional(),
  snapshot: z.string().optional(),
  outcome: z.enum(AUDIT_OUTCOMES),
  detail: z.record(z.string(), jsonValue),
  prevSha256: z.string().regex(SHA256).nullable(),
  sha256: z.string().regex(SHA256),
});

/** The hash a record must carry: sha256 of its canonical JSON without the `sha256` member. */
export function recordSha256(record: Omit<AuditRecord, "sha256"> | AuditRecord): string {
  const { sha256: _ignored, ...content } = record as AuditRecord;
  return createHash("sha256").update(canonicalJson(content)).digest("hex");
}

/** Completes a record with its sha256. */
export function sealRecord(content: Omit<AuditRecord, "sha256">): AuditRecord {
  return { ...content, sha256: recordSha256(content) };
}

/** The bytes a record is stored as: its canonical JSON and a newline (so any edit shows, see chain.ts). */
export function serializeRecord(record: AuditRecord): string {
  return `${canonicalJson(record)}\n`;
}

/** `<seq>-<random>`: the record id. The zero-padded seq orders records written in the same second. */
export function auditRecordId(seq: number, random: string): string {
  return `${String(seq).padStart(10, "0")}-${random}`;
}
