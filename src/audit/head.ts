/**
 * The head pointer, `_audit/HEAD.json`: the sha256, seq and key of the newest record, rewritten after
 * every append. A hash chain alone cannot show that its newest records were removed (what is left is
 * still a valid chain), so `verify` compares the chain's end with this pointer. It is also how an
 * appender finds the head without listing years of records.
 *
 * Limits, stated plainly: someone who can write to the bucket can remove the newest records AND roll
 * the pointer back, or rewrite every record after an edit and the pointer; a chain kept in the same
 * bucket cannot show that. What does: Object Lock (WORM) on the bucket, and keeping the head's sha256
 * somewhere else too (the monthly report, an alert channel) to compare with later.
 */
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { z } from "zod";
import { isHavenError } from "../lib/errors";
import type { StorageBackend } from "../storage/types";
import { canonicalJson } from "./canonical-json";
import { AUDIT_HEAD_KEY } from "./keys";
import type { AuditRecord } from "./record";

export interface HeadPointer {
  formatVersion: number;
  /** The newest record's seq: how many records the chain holds. */
  count: number;
  sha256: string;
  key: string;
  /** The newest record's time. */
  at: string;
}

const headPointerSchema = z.object({
  formatVersion: z.number().int().min(1),
  count: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  key: z.string(),
  at: z.iso.datetime(),
});

export type HeadRead =
  { state: "missing" } | { state: "unreadable"; problem: string } | { state: "ok"; head: HeadPointer };

export function headOf(record: AuditRecord, key: string): HeadPointer {
  return { formatVersion: 1, count: record.seq, sha256: record.sha256, key, at: record.at };
}

export async function readHeadPointer(storage: StorageBackend): Promise<HeadRead> {
  let raw: string;
  try {
    raw = await text(await storage.get(AUDIT_HEAD_KEY));
  } catch (error) {
    if (isHavenError(error, "NOT_FOUND")) return { state: "missing" };
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { state: "unreadable", problem: "the head pointer is not valid JSON" };
  }
  const parsed = headPointerSchema.safeParse(json);
  if (!parsed.success) {
    return {
      state: "unreadable",
      problem: `the head pointer is malformed: ${parsed.error.issues[0]?.message}`,
    };
  }
  return { state: "ok", head: parsed.data };
}

/** Overwrites the pointer (not create-only: it moves with every append). */
export async function writeHeadPointer(storage: StorageBackend, head: HeadPointer): Promise<void> {
  await storage.put(AUDIT_HEAD_KEY, Readable.from([Buffer.from(`${canonicalJson(head)}\n`)]), {
    contentType: "application/json",
  });
}
