/**
 * When Haven first saw each configured target: a target added to the config has no snapshot until its
 * first scheduled backup, and is in breach of its RPO only from (first seen + RPO), not at once.
 *
 * Kept in Redis (`<prefix>:slo:first-seen`, target → ms), written by every watchdog pass with HSETNX,
 * so the first process to see a target fixes its time. Redis is a cache: when the hash is lost, each
 * target counts as first seen at the next pass, which can only delay the breach of a target that has
 * never had a snapshot (callers give no grace to a target with any snapshot or pruned record on its
 * destination). A target with an `rpo-breached` incident already open when it is first recorded (the
 * upgrade that brought this in) is recorded as seen long ago (0): its breach is not reset.
 */
import type { Redis } from "ioredis";

export interface FirstSeenOptions {
  /** Targets whose breach is already known: recorded as seen long ago, never given a grace. */
  alreadyBreached?: ReadonlySet<string>;
}

export class FirstSeen {
  readonly #key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.#key = `${prefix}:slo:first-seen`;
  }

  /**
   * Records `now` for every target not seen before and returns when each was first seen; a target
   * recorded as seen long ago is left out (no grace). Throws what Redis throws.
   */
  async record(
    targets: readonly string[],
    now: Date,
    options: FirstSeenOptions = {},
  ): Promise<Map<string, Date>> {
    if (targets.length === 0) return new Map();
    const pipeline = this.redis.pipeline();
    for (const target of targets) {
      pipeline.hsetnx(this.#key, target, options.alreadyBreached?.has(target) ? "0" : String(now.getTime()));
    }
    pipeline.hmget(this.#key, ...targets);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0] as Error;
    const times = (results.at(-1)?.[1] ?? []) as Array<string | null>;
    return liveTimes(parseTimes(targets.map((target, index) => [target, times[index] ?? null])));
  }

  /** When each target was first seen, without recording anything (the report reads it). */
  async read(): Promise<Map<string, Date>> {
    return liveTimes(await this.readAll());
  }

  /** Every target recorded, with its time in ms (0: seen long ago, no grace). */
  async readAll(): Promise<Map<string, number>> {
    return parseTimes(Object.entries(await this.redis.hgetall(this.#key)));
  }
}

function parseTimes(entries: Iterable<[string, string | null]>): Map<string, number> {
  const times = new Map<string, number>();
  for (const [target, value] of entries) {
    const ms = Number(value ?? Number.NaN);
    if (Number.isFinite(ms) && ms >= 0) times.set(target, ms);
  }
  return times;
}

/** The targets that get a grace, with their first sighting: those recorded as seen long ago are left out. */
export function liveTimes(times: ReadonlyMap<string, number>): Map<string, Date> {
  return new Map([...times].filter(([, ms]) => ms > 0).map(([target, ms]) => [target, new Date(ms)]));
}
