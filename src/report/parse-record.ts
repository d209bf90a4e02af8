import { parseVerificationRecord } from "../slo/inputs";
import type { VerificationRecord } from "../verify/record";

/**
 * A verification record with its phases and start: src/slo's parser checks the fields evaluation
 * relies on, and the report keeps the record as written (it is the evidence).
 */
export function parseRecord(raw: string, where: string): VerificationRecord {
  parseVerificationRecord(raw, where);
  const record = JSON.parse(raw) as VerificationRecord;
  const phases: Record<string, number> = {};
  if (record.phases && typeof record.phases === "object") {
    for (const [name, ms] of Object.entries(record.phases)) if (typeof ms === "number") phases[name] = ms;
  }
  return { ...record, phases, checks: Array.isArray(record.checks) ? record.checks : [] };
}
