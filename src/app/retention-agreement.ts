/**
 * A scheduled prune removes snapshots by its own worker's config. Workers are restarted one by one
 * after a change (or forgotten), so a worker still on the old config would prune by the old policy:
 * after an operator raised a target's retention (30 dailies instead of 7), it deleted the 23 that the
 * new policy keeps. So a worker's prune removes a target's snapshots only when its retention for the
 * target (`retentionDigest`: policy, destinations, timezone) is the one the newest serve published.
 * Otherwise the target is left alone:
 * - while the newest config is younger than ROLLOUT_GRACE_MS (a rollout in progress), as routine
 *   (LOCKED, like a target whose backup is running): an updated worker prunes it within the hour;
 * - later, as a refusal (REFUSED, which raises `prune-refused`): this worker was never restarted.
 * A target the newest config no longer has is left alone too: no policy in force allows removing it.
 * Without a published config, or one from a version that did not record retention, the worker's own
 * config decides, as before.
 */
import type { HavenConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import { retentionDigest, type PublishedConfig } from "./published-estate";

/** How long after serve published a new config a differing worker is taken for one not yet restarted. */
const ROLLOUT_GRACE_MS = 3_600_000;

/** Throws for a target this worker must not prune now (see above); returns when it may. */
export function retentionGuard(
  published: PublishedConfig | undefined,
  config: HavenConfig,
  now: Date,
): (target: string) => void {
  return (target) => {
    if (!published?.retention) return;
    const theirs = published.retention.get(target);
    if (theirs !== undefined && theirs === retentionDigest(config, target)) return;
    const what =
      theirs === undefined
        ? `the config serve runs no longer has ${target}`
        : `this worker's retention for ${target} differs from the config serve runs`;
    const since = published.at?.toISOString() ?? "an unknown time";
    const rollingOut =
      published.at !== undefined && now.getTime() - published.at.getTime() < ROLLOUT_GRACE_MS;
    throw new HavenError(
      rollingOut ? "LOCKED" : "REFUSED",
      `prune of ${target} left to the workers running serve's config: ${what} (published ${since})`,
      {
        hint: `restart this worker (${config.source}) with the config serve runs; an up-to-date worker prunes ${target}`,
      },
    );
  };
}
