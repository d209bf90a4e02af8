/**
 * The names of the targets and destinations in the config the newest `serve` started with, kept in
 * Redis (`<prefix>:config:estate`). Workers run anywhere and are restarted one by one, so for a while
 * they hold different configs. A watchdog pass resolves the incidents of what left the config only
 * when the newest serve's config has left it too: a worker still on the old config would otherwise
 * resolve, every minute, the incidents of a target just added (its first failed backup silenced, its
 * RPO breach flapping). Without a published estate (Redis lost, no serve yet) each pass's own config
 * decides, as before. A scheduled prune likewise removes a target's snapshots only when its worker's
 * retention for that target is the newest serve's (app/retention-agreement.ts).
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { canonicalJson } from "../audit/canonical-json";
import type { HavenConfig } from "../config/types";

export interface ConfigNames {
  targets: ReadonlySet<string>;
  destinations: ReadonlySet<string>;
}

/** The newest serve's config as published: its names, and what its retention is for each target. */
export interface PublishedConfig extends ConfigNames {
  /** Target → `retentionDigest`; absent when published by a version that did not record it. */
  retention?: ReadonlyMap<string, string>;
  /** When serve published it. */
  at?: Date;
  /** sha256 of the config file it was published from. */
  sha256?: string;
}

/**
 * What decides which snapshots of a target a prune removes: its retention policy, the destinations
 * it keeps them on (prune keeps what another destination is still owed) and the timezone periods
 * are counted in. Canonical JSON, so the order keys are written in does not matter.
 */
export function retentionDigest(config: HavenConfig, target: string): string | undefined {
  const t = config.targets[target];
  if (!t) return undefined;
  const policy = { retention: t.retention, destinations: t.destinations, timezone: config.timezone };
  return createHash("sha256").update(canonicalJson(policy)).digest("hex");
}

export function namesOf(config: HavenConfig): ConfigNames {
  return {
    targets: new Set(Object.keys(config.targets)),
    destinations: new Set(Object.keys(config.destinations)),
  };
}

interface Stored {
  targets: string[];
  destinations: string[];
  retention: Record<string, string>;
  /** The config file's sha256 and when serve started with it: for whoever reads Redis by hand. */
  sha256: string;
  at: string;
}

export class PublishedEstate {
  readonly #key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.#key = `${prefix}:config:estate`;
  }

  /** Called by `serve` at start, after it reconciled the schedules of `config`. */
  async publish(config: HavenConfig, now = new Date()): Promise<void> {
    const names = namesOf(config);
    const stored: Stored = {
      targets: [...names.targets],
      destinations: [...names.destinations],
      retention: Object.fromEntries(
        [...names.targets].map((target) => [target, retentionDigest(config, target) as string]),
      ),
      sha256: config.sha256,
      at: now.toISOString(),
    };
    await this.redis.set(this.#key, JSON.stringify(stored));
  }

  /** The newest serve's config; undefined when none was published or the value is unreadable. */
  async read(): Promise<PublishedConfig | undefined> {
    const raw = await this.redis.get(this.#key);
    if (raw === null) return undefined;
    try {
      const stored = JSON.parse(raw) as Partial<Stored>;
      if (!Array.isArray(stored.targets) || !Array.isArray(stored.destinations)) return undefined;
      const at = typeof stored.at === "string" ? new Date(stored.at) : undefined;
      return {
        targets: new Set(stored.targets),
        destinations: new Set(stored.destinations),
        ...(stored.retention && typeof stored.retention === "object"
          ? { retention: new Map(Object.entries(stored.retention)) }
          : {}),
        ...(at && !Number.isNaN(at.getTime()) ? { at } : {}),
        ...(typeof stored.sha256 === "string" ? { sha256: stored.sha256 } : {}),
      };
    } catch {
      return undefined;
    }
  }
}
