/**
 * Which policy applies where. A target's snapshots on one destination follow, in order of precedence:
 * the destination's own `retention` (copies kept longer or shorter off-site), else the target's
 * `retention` (itself the target's value or `defaults.retention`).
 */
import type { HavenConfig, RetentionPolicy, TargetConfig } from "../config/types";
import { HavenError } from "../lib/errors";

/** The target's entry in the config; NOT_FOUND (exit 2) naming the known targets otherwise. */
export function configuredTarget(config: HavenConfig, name: string): TargetConfig {
  const target = config.targets[name];
  if (!target) {
    const known = Object.keys(config.targets).join(", ") || "none";
    throw new HavenError("NOT_FOUND", `no target named "${name}" in ${config.source}`, {
      hint: `known targets: ${known}; snapshots of a target removed from the config are pruned with --orphans`,
      exitCode: 2,
    });
  }
  return target;
}

/** The retention policy of `target`'s snapshots on the destination named `destination`. */
export function retentionOn(config: HavenConfig, target: TargetConfig, destination: string): RetentionPolicy {
  return config.destinations[destination]?.retention ?? target.retention;
}

/** The prune guard rail of `target`: its own `maxRemoveShare`, else `defaults.maxRemoveShare` (0.5). */
export function maxRemoveShareOf(config: HavenConfig, target: TargetConfig): number {
  return target.maxRemoveShare ?? config.defaults.maxRemoveShare;
}
