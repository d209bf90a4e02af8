/**
 * Whether a failed verification proves its snapshot bad, as opposed to failing around it. The RPO
 * counts only good backups, so a snapshot proven bad must not count, while a scratch database that
 * was down, a network error or the freshness guard says nothing of the snapshot.
 */
import { decryptHints } from "../crypto/errors";
import { isHavenError } from "../lib/errors";

/**
 * Error codes that mean the snapshot itself is bad: a hash or size mismatch, an archive entry that
 * tries to escape, an object its manifest lists that is gone. DECRYPT is not one: it is also what a
 * worker without the right identity gets, which says nothing of the snapshot.
 */
const DAMAGE_CODES = new Set(["INTEGRITY", "UNSAFE_ARCHIVE", "NOT_FOUND"]);
/** Failed checks that say nothing of the content: the guard, the scratch place, a phase's error. */
const ENVIRONMENT_CHECKS = new Set(["freshness", "cleanup", "restore", "checks"]);

/**
 * The code a verification records for an error. Decryption has one code, DECRYPT, for a wrong key and
 * for damaged data alike; a chunk or header that fails authentication once the key matched is damage,
 * so it is recorded as INTEGRITY (the message keeps the detail).
 */
export function verificationErrorCode(error: unknown): string {
  if (!isHavenError(error)) return "FAILED";
  if (error.code === "DECRYPT" && error.hint === decryptHints.corrupt) return "INTEGRITY";
  return error.code;
}

/** True when an error met while reading a snapshot proves the snapshot itself bad (the rule above). */
export function errorProvesDamage(error: unknown): boolean {
  return DAMAGE_CODES.has(verificationErrorCode(error));
}

/** The parts of a verification record (src/verify/record.ts) the answer depends on, as read from JSON. */
export interface VerificationOutcome {
  result: unknown;
  checks?: ReadonlyArray<{ name?: unknown; ok?: unknown; ran?: unknown; detail?: unknown } | null>;
  error?: { code?: unknown } | null;
}

/**
 * True when the verification failed because a hash, a count or an operator's check did not match, an
 * object of the snapshot is missing, or the archive could not be unpacked safely. A check that could
 * not run (bad SQL) is a finding about the check, not the data.
 */
export function provesSnapshotDamaged(outcome: VerificationOutcome): boolean {
  if (outcome.result !== "failed") return false;
  const code = outcome.error?.code;
  if (typeof code === "string" && DAMAGE_CODES.has(code)) return true;
  return (outcome.checks ?? []).some((c) => c?.ok === false && ran(c) && provesContentWrong(c.name));
}

/**
 * True when the verification failed only its freshness guard (the newest snapshot was older than the
 * RPO) and everything it checked of the snapshot held: a stale target, which the RPO reports, not a
 * restore that failed. Its measured restore time is still a valid measurement.
 */
export function failedOnlyFreshness(outcome: VerificationOutcome): boolean {
  if (outcome.result !== "failed" || outcome.error) return false;
  const failed = (outcome.checks ?? []).filter((c) => c?.ok === false);
  return failed.length > 0 && failed.every((c) => c?.name === "freshness");
}

/**
 * Error codes of a failed verification that describe the verifier, not the snapshot: an identity file
 * that does not fit (a corrupt ciphertext is recorded as INTEGRITY, see verificationErrorCode), a
 * refused credential, the network, a lock, a cancel, a restore test stopped at verify.timeout.
 */
const VERIFIER_CODES = new Set(["DECRYPT", "CREDENTIALS", "TRANSIENT", "LOCKED", "CANCELLED", "TIMEOUT"]);

/**
 * True when a failed verification says nothing either way about its snapshot: it failed on the
 * verifier's own situation (VERIFIER_CODES) or only on the freshness guard. An earlier pass of the
 * snapshot still stands after it, so retention keeps it as the newest verified one.
 */
export function saysNothingOfSnapshot(outcome: VerificationOutcome): boolean {
  if (outcome.result !== "failed" || provesSnapshotDamaged(outcome)) return false;
  if (failedOnlyFreshness(outcome)) return true;
  const code = outcome.error?.code;
  return typeof code === "string" && VERIFIER_CODES.has(code);
}

/** Records written before `ran` existed say so in the detail (see failedToRun and notApplicable). */
function ran(check: { ran?: unknown; detail?: unknown }): boolean {
  if (check.ran === false) return false;
  const detail = typeof check.detail === "string" ? check.detail : "";
  return !detail.startsWith("could not run:") && !detail.includes("target cannot run it");
}

function provesContentWrong(name: unknown): boolean {
  if (typeof name !== "string") return false;
  // A read-back failure is damage only when its error code says so (a network error is not).
  return !ENVIRONMENT_CHECKS.has(name) && !name.endsWith(": read back");
}

/** What `damagedSnapshots` needs of a verification: its snapshot, kind, time and verdict. */
export interface ConclusiveInput {
  kind: "integrity" | "restore";
  snapshotId: string;
  finishedAt: Date;
  result: "passed" | "failed";
  /** `provesSnapshotDamaged` of the record. */
  damaged?: boolean;
}

/**
 * Snapshots whose newest conclusive verification proved them damaged. A later pass clears that, but
 * only a restore test's pass clears a restore test's finding: an integrity pass shows the stored bytes
 * match the manifest, not that their content (row counts, operator checks) was right. A later failure
 * that proves nothing (scratch place down, network) clears nothing.
 */
export function damagedSnapshots(verifications: ReadonlyArray<ConclusiveInput>): Set<string> {
  type Point = (typeof verifications)[number];
  const newestAny = new Map<string, Point>();
  const newestRestore = new Map<string, Point>();
  const keepNewer = (map: Map<string, Point>, v: Point) => {
    const seen = map.get(v.snapshotId);
    if (!seen || v.finishedAt.getTime() > seen.finishedAt.getTime()) map.set(v.snapshotId, v);
  };
  for (const v of verifications) {
    if (v.result === "failed" && v.damaged !== true) continue;
    keepNewer(newestAny, v);
    if (v.kind === "restore") keepNewer(newestRestore, v);
  }
  const damaged = new Set<string>();
  for (const map of [newestAny, newestRestore])
    for (const v of map.values()) if (v.damaged === true) damaged.add(v.snapshotId);
  return damaged;
}
