/** The audit trail: hash-chained records of who did what, stored in the destination (see log.ts). */
export {
  AuditLog,
  type AuditEntry,
  type AuditListOptions,
  type AuditLogOptions,
  type AuditVerifyResult,
} from "./log";
export {
  AUDIT_ACTIONS,
  AUDIT_FORMAT_VERSION,
  AUDIT_OUTCOMES,
  recordSha256,
  type AuditAction,
  type AuditActor,
  type AuditOutcome,
  type AuditRecord,
} from "./record";
export { localActor, osUserName } from "./actor";
export { collectSecrets, redactDetail, isSecretKey, type JsonValue, type RedactOptions } from "./redact";
export { checkChain, type AuditProblem, type ChainCheck, type ReadAuditEntry } from "./chain";
export { AUDIT_HEAD_KEY, isAuditRecordKey } from "./keys";
export type { HeadPointer } from "./head";
export { withWaitingLock, type WaitingLockOptions } from "./lock";
export {
  AUDIT_TABLE_HEADERS,
  auditJson,
  auditTableRows,
  parseSince,
  verifyAuditLogs,
  verifyExitCode,
  verifyReportLines,
} from "./cli";
