/**
 * Keys of the audit area, on top of `layout.audit(at, id)` (src/catalog/layout.ts):
 *   _audit/<yyyy>/<mm>/<dd>/<yyyymmddThhmmssZ>-<seq>-<8 hex>.json   one record
 *   _audit/HEAD.json                                                the head pointer (head.ts)
 * A listing of `_audit/` returns records in chain order: time first, then seq within a second (the
 * record times never go backwards along the chain, see AuditLog.append).
 */
import { layout } from "../catalog/layout";

export const AUDIT_HEAD_KEY = `${layout.auditPrefix()}HEAD.json`;

const RECORD_KEY = /^_audit\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-(\d{10})-[0-9a-f]{8}\.json$/;

/** True for the key of an audit record (not the head pointer, nor anything else under `_audit/`). */
export function isAuditRecordKey(key: string): boolean {
  return RECORD_KEY.test(key);
}

/** `_audit/<yyyy>/<mm>/<dd>/`: the folder of the records written on the UTC day of `at`. */
export function auditDayPrefix(at: Date): string {
  const key = layout.audit(at, "x");
  return key.slice(0, key.lastIndexOf("/") + 1);
}

/** The folder of an existing record key. */
export function auditDayPrefixOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf("/") + 1);
}

/**
 * The time a record key starts at, to second precision; used to skip reading records older than
 * `--since` without opening them.
 */
export function auditKeySecond(key: string): Date | null {
  const match = /\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-/.exec(key);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
}
