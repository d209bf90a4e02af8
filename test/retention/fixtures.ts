/** Snapshot fixtures for the retention tests: ids in Haven's format, dates written out in UTC. */
import type { Tier } from "../../src/config/types";
import type { RetentionCandidate, RetentionDecision } from "../../src/retention";

export const DAY_MS = 86_400_000;

/** A candidate taken at `iso` (UTC, e.g. "2026-11-20T02:00:00Z"); committed unless told otherwise. */
export function snap(
  iso: string,
  extra: { tiers?: Tier[]; state?: "committed" | "partial"; verifiedOk?: boolean; damaged?: boolean } = {},
): RetentionCandidate {
  const createdAt = new Date(iso);
  if (Number.isNaN(createdAt.getTime())) throw new Error(`bad fixture date ${iso}`);
  const compact = createdAt
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const candidate: RetentionCandidate = {
    id: `${compact}-0a1b2c3d`,
    createdAt,
    tiers: extra.tiers ?? ["daily"],
    state: extra.state ?? "committed",
  };
  return {
    ...candidate,
    ...(extra.verifiedOk === undefined ? {} : { verifiedOk: extra.verifiedOk }),
    ...(extra.damaged ? { damaged: true } : {}),
  };
}

/** `2026-11-20T02:00:00Z`: the fixture spelling of a snapshot's time. */
export function isoOf(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, "Z");
}

/** The kept snapshots as [time, reasons], newest first: the shape the expected lists are written in. */
export function kept(decision: RetentionDecision): Array<[string, string[]]> {
  return decision.keep.map((e) => [isoOf(e.snapshot.createdAt), [...e.reasons]]);
}

/** The removed snapshots' times, newest first. */
export function removed(decision: RetentionDecision): string[] {
  return decision.remove.map((e) => isoOf(e.snapshot.createdAt));
}
