/**
 * The retention policy as a pure function (HOUSE_STYLE practice 9): same input, same decision; no clock,
 * no I/O. Semantics are restic's `forget --keep-*` rules:
 * - `daily|weekly|monthly|yearly: N`: for each of the newest N distinct periods that contain a snapshot,
 *   keep the newest snapshot of that period. Periods without a snapshot do not count, so a gap (a holiday,
 *   a broken backup) never makes retention reach less far back.
 * - `last: N`: keep the newest N snapshots.
 * - `within: D`: keep every snapshot taken less than D before the newest snapshot. Anchored on the newest
 *   snapshot rather than on `now`, like restic, so that backups that stopped running never make prune
 *   delete the history an operator needs to recover from.
 * Tiers are not consulted: a snapshot taken for the daily tier fills a weekly period as well, so a missed
 * weekly run never deletes more. Guard rails no policy overrides: the newest committed snapshot, the newest
 * snapshot that passed a verification, and snapshots dated in the future (clock skew) are always kept; a
 * policy without any rule keeps everything.
 *
 * A snapshot its verifications prove damaged cannot serve a restore, so it must not take a good
 * snapshot's place: the rules are applied to the good snapshots alone (a good one earlier the same day
 * keeps that day; the newest good committed one is kept). The damaged one itself keeps what the rules
 * give it counted among all, as before it was found damaged: retention never removes more because of
 * a finding, which may be wrong (an old verifier), and the operator may want to inspect it.
 */
import { formatDuration } from "../lib/duration";
import { HavenError } from "../lib/errors";
import { assertTimezone, localPeriods, PERIOD_UNITS } from "./periods";
import type { RetentionCandidate, RetentionDecision, RetentionEntry, RetentionPolicy } from "./types";

/** Reasons that are not tied to a period; exported so callers and tests compare against one spelling. */
export const REASON = {
  future: "future (clock skew)",
  unreadableDate: "unreadable date",
  noRule: "no retention rule",
  newestCommitted: "newest committed",
  newestVerified: "newest verified",
  damaged: "damaged: kept as if good, counted for no period",
  removed: "no rule keeps it",
} as const;

export interface ApplyRetentionOptions {
  /** IANA timezone the periods are computed in (the config's top-level `timezone`). */
  timezone: string;
}

/** Decides keep or remove, with reasons, for every snapshot of one target on one destination. */
export function applyRetention(
  snapshots: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  now: Date,
  opts: ApplyRetentionOptions,
): RetentionDecision {
  assertTimezone(opts.timezone);
  assertPolicy(policy);
  if (Number.isNaN(now.getTime()))
    throw new HavenError("PERMANENT", "applyRetention was given an invalid `now`");

  // One slot per input element (not per object), so a snapshot passed twice is decided twice.
  const slots: Slot[] = [...snapshots].sort(newestFirst).map((snapshot) => ({ snapshot, reasons: [] }));

  // Slots the policy can count: a future or unreadable date would otherwise take the place of a real
  // period and push an older, genuine snapshot out.
  const countable: Slot[] = [];
  for (const slot of slots) {
    const time = slot.snapshot.createdAt.getTime();
    if (Number.isNaN(time)) slot.reasons.push(REASON.unreadableDate);
    else if (time > now.getTime()) slot.reasons.push(REASON.future);
    else countable.push(slot);
  }

  if (!hasAnyRule(policy)) {
    for (const slot of countable) slot.reasons.push(REASON.noRule);
  }
  const good = countable.filter((slot) => slot.snapshot.damaged !== true);
  applyRules(good, policy, opts.timezone);
  if (good.length < countable.length) {
    // What each damaged snapshot would keep counted among all: nothing is removed for a finding.
    const asBefore: Slot[] = countable.map(({ snapshot }) => ({ snapshot, reasons: [] }));
    applyRules(asBefore, policy, opts.timezone);
    asBefore.forEach(({ snapshot, reasons }, index) => {
      if (snapshot.damaged === true && reasons.length > 0)
        countable[index]?.reasons.push(...reasons, REASON.damaged);
    });
  }

  good.find((s) => s.snapshot.state === "committed")?.reasons.push(REASON.newestCommitted);
  const newestCommitted = countable.find((s) => s.snapshot.state === "committed");
  if (newestCommitted?.snapshot.damaged === true && !newestCommitted.reasons.includes(REASON.damaged))
    newestCommitted.reasons.push(REASON.newestCommitted, REASON.damaged);
  countable.find((s) => s.snapshot.verifiedOk === true)?.reasons.push(REASON.newestVerified);

  const entries: RetentionEntry[] = slots.map(({ snapshot, reasons }) =>
    reasons.length > 0
      ? { snapshot, action: "keep", reasons }
      : { snapshot, action: "remove", reasons: [REASON.removed] },
  );
  return {
    now,
    timezone: opts.timezone,
    policy,
    entries,
    keep: entries.filter((e) => e.action === "keep"),
    remove: entries.filter((e) => e.action === "remove"),
  };
}

/**
 * `decision` with the snapshots in `extra` kept too, for the reason given (a guard the policy does not
 * know, such as a copy still owed to another destination). Reasons of kept snapshots are added to.
 */
export function keepAlso(decision: RetentionDecision, extra: ReadonlyMap<string, string>): RetentionDecision {
  if (extra.size === 0) return decision;
  const entries: RetentionEntry[] = decision.entries.map((entry) => {
    const reason = extra.get(entry.snapshot.id);
    if (reason === undefined) return entry;
    const reasons = entry.action === "keep" ? [...entry.reasons, reason] : [reason];
    return { snapshot: entry.snapshot, action: "keep", reasons };
  });
  return {
    ...decision,
    entries,
    keep: entries.filter((e) => e.action === "keep"),
    remove: entries.filter((e) => e.action === "remove"),
  };
}

/** A snapshot and the reasons found so far to keep it. */
interface Slot {
  readonly snapshot: RetentionCandidate;
  readonly reasons: string[];
}

function applyRules(slots: readonly Slot[], policy: RetentionPolicy, timezone: string): void {
  keepNewestOfPeriods(slots, policy, timezone);
  keepLast(slots, policy.last ?? 0);
  keepWithin(slots, policy.within ?? 0);
}

/** `countable` is newest first, so the first snapshot met in a period is the newest of that period. */
function keepNewestOfPeriods(countable: readonly Slot[], policy: RetentionPolicy, timezone: string): void {
  for (const unit of PERIOD_UNITS) {
    let remaining = policy[unit] ?? 0;
    let previous: string | undefined;
    for (const slot of countable) {
      if (remaining === 0) break;
      const period = localPeriods(slot.snapshot.createdAt, timezone)[unit];
      if (period === previous) continue;
      slot.reasons.push(`${unit} ${period}`);
      previous = period;
      remaining -= 1;
    }
  }
}

function keepLast(countable: readonly Slot[], last: number): void {
  for (const slot of countable.slice(0, last)) slot.reasons.push(`last ${last}`);
}

function keepWithin(countable: readonly Slot[], withinMs: number): void {
  const newest = countable[0];
  if (withinMs === 0 || !newest) return;
  const cutoff = newest.snapshot.createdAt.getTime() - withinMs;
  for (const slot of countable) {
    if (slot.snapshot.createdAt.getTime() > cutoff) slot.reasons.push(`within ${formatDuration(withinMs)}`);
  }
}

/** Zero and absent mean the same, as in restic: the rule is off. */
function hasAnyRule(policy: RetentionPolicy): boolean {
  return [policy.last, ...PERIOD_UNITS.map((u) => policy[u]), policy.within].some((n) => (n ?? 0) > 0);
}

/** The config schema already validates this; checked again because the function is also called directly. */
function assertPolicy(policy: RetentionPolicy): void {
  for (const rule of ["last", ...PERIOD_UNITS] as const) {
    const count = policy[rule];
    if (count !== undefined && !(Number.isInteger(count) && count >= 0)) {
      throw new HavenError("CONFIG", `retention.${rule} must be a whole number of 0 or more, got ${count}`, {
        hint: `fix retention.${rule} in haven.yaml (e.g. ${rule}: 7)`,
      });
    }
  }
  const within = policy.within;
  if (within !== undefined && !(Number.isFinite(within) && within >= 0)) {
    throw new HavenError("CONFIG", `retention.within must be a duration of 0 or more, got ${within}ms`, {
      hint: "fix retention.within in haven.yaml (e.g. within: 7d)",
    });
  }
}

function newestFirst(a: RetentionCandidate, b: RetentionCandidate): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0 && !Number.isNaN(byTime)) return byTime;
  // Unreadable dates sort last; equal times fall back to the id, which sorts by time too.
  const aBad = Number.isNaN(a.createdAt.getTime());
  const bBad = Number.isNaN(b.createdAt.getTime());
  if (aBad !== bBad) return aBad ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
