/**
 * The names of the targets and destinations in the config the newest `serve` started with, kept in
 * Redis (`<prefix>:config:estate`). Workers run anywhere and are restarted one by one, so for a while
 * they hold different configs. A watchdog pass resolves the incidents of what left the config only
 * when the newest serve's config has left it too: a worker still on the old config would otherwise
 * resolve, every minute, the incidents of a target just added (its first failed backup silenced, its
 * RPO breach flapping). Without a published estate (Redis lost, no serve yet) each pass's own config
 * decides, as before.
 */
import type { Redis } from "ioredis";
import type { HavenConfig } from "../config/types";

export interface ConfigNames {
  targets: ReadonlySet<string>;
  destinations: ReadonlySet<string>;
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
      sha256: config.sha256,
      at: now.toISOString(),
    };
    await this.redis.set(this.#key, JSON.stringify(stored));
  }

  /** The newest serve's names; undefined when none was published or the value is unreadable. */
  async read(): Promise<ConfigNames | undefined> {
    const raw = await this.redis.get(this.#key);
    if (raw === null) return undefined;
    try {
      const stored = JSON.parse(raw) as Partial<Stored>;
      if (!Array.isArray(stored.targets) || !Array.isArray(stored.destinations)) return undefined;
      return { targets: new Set(stored.targets), destinations: new Set(stored.destinations) };
    } catch {
      return undefined;
    }
  }
}
