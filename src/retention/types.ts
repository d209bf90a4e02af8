/**
 * Contracts of the retention policy (HOUSE_STYLE practice 9: policies are pure functions).
 *
 * Glossary:
 * - candidate: one snapshot of one target on one destination, as retention sees it (read from its manifest
 *   and its verification records).
 * - period: a local calendar day, ISO week (Monday first), month or year in the configured IANA timezone.
 *   Written as `2026-11-20`, `2026-W47`, `2026-11`, `2026`.
 * - rule: one key of the policy (`last`, `daily`, `weekly`, `monthly`, `yearly`, `within`).
 * - reason: why a snapshot is kept (or removed), in words an operator reads in `haven prune --dry-run`.
 * - guard rail: a reason to keep a snapshot that no policy can override (newest committed, newest verified,
 *   snapshots dated in the future).
 */
import type { RetentionPolicy, Tier } from "../config/types";

export type { RetentionPolicy };

/** One snapshot as retention sees it. */
export interface RetentionCandidate {
  /** Snapshot id, `20261122T020000Z-1a2b3c4d`. */
  readonly id: string;
  /** When the snapshot was taken (the manifest's `startedAt`): the instant periods are computed from. */
  readonly createdAt: Date;
  /** Why the snapshot was taken. Informative only: tiers never restrict which periods a snapshot fills. */
  readonly tiers: readonly Tier[];
  /** The run state recorded in the manifest; both are restorable. */
  readonly state: "committed" | "partial";
  /** true when the latest verification (integrity check or restore test) of this snapshot passed. */
  readonly verifiedOk?: boolean;
  /** true when its verifications prove it damaged (`verify/damage.ts`): it cannot serve a restore. */
  readonly damaged?: boolean;
}

export type RetentionAction = "keep" | "remove";

/** The decision for one snapshot. */
export interface RetentionEntry {
  readonly snapshot: RetentionCandidate;
  readonly action: RetentionAction;
  /**
   * Why, in a fixed order: `unreadable date` or `future (clock skew)`, `no retention rule`, `daily 2026-11-20`, `weekly 2026-W47`,
   * `monthly 2026-11`, `yearly 2026`, `last 3`, `within 7d`, then for a damaged snapshot
   * `damaged: kept as if good, counted for no period`, then `newest committed`, `newest verified`;
   * a removed snapshot has exactly one reason, `no rule keeps it`.
   */
  readonly reasons: readonly string[];
}

/** The result of `applyRetention`: every input snapshot exactly once. */
export interface RetentionDecision {
  /** The instant the decision was made for (injected, never read from the clock). */
  readonly now: Date;
  /** The IANA timezone periods were computed in. */
  readonly timezone: string;
  readonly policy: RetentionPolicy;
  /** Every snapshot, newest first (ties broken by id, descending). */
  readonly entries: readonly RetentionEntry[];
  /** The entries to keep, newest first. */
  readonly keep: readonly RetentionEntry[];
  /** The entries to remove, newest first. */
  readonly remove: readonly RetentionEntry[];
}
