/**
 * Restore requests in the bucket, next to the audit trail, so any Haven pointed at the destination
 * sees them (no Redis needed). Each step of a request is its own write-once object:
 *   _requests/<id>.json            the request (who asks to restore what, where, until when)
 *   _requests/<id>.approval.json   the approval (who approved, when)
 *   _requests/<id>.used.json       the single use (who ran the restore, when)
 * Write-once objects (create-only puts) mean a step can never be overwritten or happen twice: a second
 * approval or use finds the key taken. On backends where create-only is not atomic (S3-compatible
 * services other than AWS), the caller's Redis lock closes the window (approvals.ts).
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { z } from "zod";
import { ExitCode, HavenError, isHavenError } from "../lib/errors";
import type { StorageBackend } from "../storage/types";
import { ROLES } from "./roles";

export const REQUESTS_PREFIX = "_requests/";
const REQUEST_ID = /^req-[0-9a-f]{10}$/;

export function newRequestId(): string {
  return `req-${randomBytes(5).toString("hex")}`;
}

/** Throws HavenError USAGE unless `id` looks like a request id (`req-` and 10 hex digits). */
export function assertRequestId(id: string): void {
  if (!REQUEST_ID.test(id)) {
    throw new HavenError("USAGE", `${JSON.stringify(id)} is not a restore request id`, {
      hint: "request ids look like req-1a2b3c4d5e; `haven restore ... --request` prints one",
    });
  }
}

export const requestKeys = (id: string) => ({
  request: `${REQUESTS_PREFIX}${id}.json`,
  approval: `${REQUESTS_PREFIX}${id}.approval.json`,
  used: `${REQUESTS_PREFIX}${id}.used.json`,
});

/** The id of a request object key; null for approvals, uses and other keys. */
export function requestIdOfKey(key: string): string | null {
  const match = /^_requests\/(req-[0-9a-f]{10})\.json$/.exec(key);
  return match ? (match[1] as string) : null;
}

/** Who took a step: the operator identity and role, and the OS user and host it ran as. */
const stampSchema = z.strictObject({
  name: z.string(),
  role: z.enum(ROLES),
  source: z.enum(["token", "name", "local"]),
  user: z.string(),
  host: z.string(),
});
export type OperatorStamp = z.infer<typeof stampSchema>;

export const restoreRequestSchema = z.strictObject({
  formatVersion: z.literal(1),
  id: z.string().regex(REQUEST_ID),
  kind: z.literal("restore"),
  target: z.string(),
  snapshot: z.string(),
  /** Where to restore; null: over the original location. */
  to: z.string().nullable(),
  /**
   * `--include` patterns ([]: the whole snapshot) and `--force`. Absent in requests stored before
   * they were recorded: such a request approves a restore with neither (see termsOfRequest).
   */
  include: z.array(z.string()).optional(),
  force: z.boolean().optional(),
  reason: z.string().optional(),
  requestedBy: stampSchema,
  requestedAt: z.iso.datetime(),
  /** The request can be approved and used until then. */
  expiresAt: z.iso.datetime(),
});
export type StoredRestoreRequest = z.infer<typeof restoreRequestSchema>;

/** Everything an approval binds (restore-terms.ts). */
const restoreTermsSchema = z.strictObject({
  target: z.string(),
  snapshot: z.string(),
  to: z.string().nullable(),
  include: z.array(z.string()),
  force: z.boolean(),
});
export type RestoreTerms = z.infer<typeof restoreTermsSchema>;

/**
 * The terms of a request. One stored before requests recorded `--include` and `--force` was shown
 * to its approver without them, as a restore of the whole snapshot that refuses a non-empty
 * destination: it approves exactly that, never a part nor a forced restore.
 */
export function termsOfRequest(request: StoredRestoreRequest): RestoreTerms {
  return {
    target: request.target,
    snapshot: request.snapshot,
    to: request.to,
    include: request.include ?? [],
    force: request.force ?? false,
  };
}

export const approvalSchema = z.strictObject({
  formatVersion: z.literal(1),
  requestId: z.string().regex(REQUEST_ID),
  approvedBy: stampSchema,
  approvedAt: z.iso.datetime(),
  /** What the approver approved, copied from the request; absent in approvals stored before it was. */
  approves: restoreTermsSchema.optional(),
});
export type StoredApproval = z.infer<typeof approvalSchema>;

export const usageSchema = z.strictObject({
  formatVersion: z.literal(1),
  requestId: z.string().regex(REQUEST_ID),
  usedBy: stampSchema,
  usedAt: z.iso.datetime(),
});
export type StoredUsage = z.infer<typeof usageSchema>;

/** Reads and validates a JSON object; null when it does not exist. */
export async function readStored<T>(
  storage: StorageBackend,
  key: string,
  schema: z.ZodType<T>,
): Promise<T | null> {
  let raw: string;
  try {
    raw = await text(await storage.get(key));
  } catch (error) {
    if (isHavenError(error, "NOT_FOUND")) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw malformed(storage, key, "not valid JSON", error);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw malformed(storage, key, parsed.error.issues[0]?.message ?? "invalid", parsed.error);
  return parsed.data;
}

/** Writes a JSON object create-only; HavenError ALREADY_EXISTS when the key is taken. */
export async function writeOnce(storage: StorageBackend, key: string, value: unknown): Promise<void> {
  await storage.put(key, Readable.from([Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]), {
    createOnly: true,
    contentType: "application/json",
  });
}

export function requestNotFound(id: string, storage: StorageBackend): HavenError {
  return new HavenError("NOT_FOUND", `no restore request ${id} on ${storage.name}`, {
    hint: "check the id printed by `haven restore ... --request`; requests are stored per destination",
    exitCode: ExitCode.FAILED,
  });
}

function malformed(storage: StorageBackend, key: string, why: string, cause: unknown): HavenError {
  return new HavenError("INTEGRITY", `${storage.location}/${key} is malformed: ${why}`, {
    hint: "the request objects were altered; create a new request with `haven restore ... --request`",
    cause,
  });
}
