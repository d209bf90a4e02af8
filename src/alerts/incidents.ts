/**
 * Incidents: the life of an alert condition, from opened to resolved, kept in Redis so that every
 * `serve` and `worker` process shares it.
 *
 * - `raise(key, event)`: opens the incident and notifies, once. While it stays open, further raises
 *   notify again only when `repeatMs` (`alerts.repeat`) has passed since the last notice (a reminder).
 * - `clear(key)`: closes an open incident and sends a resolved notice; clearing a key that is not open
 *   does nothing, so callers may clear freely (every committed backup clears backup-failed).
 * - `reconcile(conditions, scope)`: the watchdog's call. Raises every condition that holds and clears
 *   every open incident within `scope` that no longer holds.
 *
 * Redis is a cache here, the destination is the truth: if the alert state is lost (Redis flushed,
 * replaced, or a first start), the next `reconcile` notices that its marker key is gone, recreates one
 * incident per condition that holds (computed from the bucket), and announces each exactly once as
 * "still open since <when the condition began>" instead of as new. Nothing else is sent: no storm of
 * openings, no resolved notices for incidents that cleared while the state was lost (nothing is known
 * about them), and reminders resume `repeatMs` after the re-announcement. Conditions that only events
 * raise (backup-failed, backup-partial, storage-unreachable) come back when the event happens again.
 *
 * Every transition is one Lua script, so concurrent processes raising the same key open it once and
 * send one reminder per interval.
 *
 * A notice a channel did not accept (after `deliver`'s own retries) is not counted as delivered: the
 * incident remembers which channels missed it, and every reconcile at least `retryMs` later (default
 * 5 minutes) sends it again to those channels only, until each has it or a reminder supersedes it. A resolved notice that a channel missed is kept beside the alert state and retried
 * the same way by every reconcile for a day; an incident that opens again first drops it, so a late
 * "resolved" never follows a new "opened".
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { HavenError } from "../lib/errors";
import { silentLogger, type Logger } from "../lib/logger";
import type { AlertChannel } from "./channels/types";
import { deliver, type DeliveryOptions, type DeliveryReport } from "./deliver";
import type { AlertEvent, AlertEventType, Condition } from "./events";
import type { Notice, NoticeKind } from "./message";

/** Default Redis key prefix of the alert state. */
export const DEFAULT_INCIDENT_PREFIX = "haven:alerts";

export interface IncidentManagerOptions {
  redis: Redis;
  channels: readonly AlertChannel[];
  /** `alerts.repeat` in milliseconds: how often an open incident is notified again. */
  repeatMs: number;
  /** Redis key prefix. Default "haven:alerts". */
  prefix?: string;
  logger?: Logger;
  /** The clock (injected in tests). Default `() => new Date()`. */
  now?: () => Date;
  /** Retry policy of channel deliveries. */
  delivery?: Omit<DeliveryOptions, "logger">;
  /** How soon a notice is sent again to the channels that did not accept it. Default 5 min (at most repeatMs). */
  retryMs?: number;
}

/** Default of `IncidentManagerOptions.retryMs`. */
export const DEFAULT_NOTICE_RETRY_MS = 5 * 60_000;
/** A resolved notice that channels did not accept is retried for this long, then dropped. */
export const UNSENT_RESOLVED_TTL_MS = 24 * 60 * 60_000;

export interface Incident {
  key: string;
  /** The event as last raised (its summary and details stay current in reminders). */
  event: AlertEvent;
  /** When the condition began. */
  since: Date;
  openedAt: Date;
  lastNotifiedAt: Date;
  /** Notices sent for this incident so far (opening and reminders). */
  notifications: number;
}

/** What a raise did: opened (new), reannounced (after lost state), reminded (repeat interval), unchanged. */
export type RaiseAction = "opened" | "reannounced" | "reminded" | "unchanged";

export interface RaiseOutcome {
  action: RaiseAction;
  incident: Incident;
  /** One per channel when a notice was sent; empty when unchanged. */
  deliveries: DeliveryReport[];
}

export interface ClearOutcome {
  resolved: boolean;
  incident?: Incident;
  deliveries: DeliveryReport[];
}

/** Which open incidents a reconcile is authoritative for. */
export interface ReconcileScope {
  /** Event types the conditions were computed for (e.g. EVALUATED_EVENTS). */
  events: readonly AlertEventType[];
  /** Limit to these targets (e.g. the targets that could be evaluated). Default: every target. */
  targets?: readonly string[];
}

export interface ReconcileReport {
  /** True when the alert state was found missing and rebuilt in this pass. */
  rebuilt: boolean;
  opened: string[];
  reannounced: string[];
  reminded: string[];
  /** Open incidents whose notice was sent again to the channels that missed it. */
  retried: string[];
  resolved: string[];
  unchanged: string[];
  /** Resolved notices sent again to channels that missed them. */
  resolvedRetried: string[];
}

// KEYS: incident hash, open set, unsent resolved hash, unsent set.
// ARGV: key, event json, now ms, repeat ms, since ms.
const RAISE_SCRIPT = `
local h = KEYS[1]
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('EXISTS', h) == 0 then
  redis.call('HSET', h, 'key', ARGV[1], 'event', ARGV[2], 'since', ARGV[5], 'openedAt', ARGV[3], 'lastNotifiedAt', ARGV[3], 'notifications', '1')
  redis.call('DEL', KEYS[3])
  redis.call('SREM', KEYS[4], ARGV[1])
  return {'opened', ARGV[5], ARGV[3], ARGV[3], '1'}
end
redis.call('HSET', h, 'event', ARGV[2])
local since = redis.call('HGET', h, 'since')
local openedAt = redis.call('HGET', h, 'openedAt')
local last = tonumber(redis.call('HGET', h, 'lastNotifiedAt'))
local n = tonumber(redis.call('HGET', h, 'notifications'))
if tonumber(ARGV[3]) - last >= tonumber(ARGV[4]) then
  n = n + 1
  redis.call('HSET', h, 'lastNotifiedAt', ARGV[3], 'notifications', tostring(n))
  redis.call('HDEL', h, 'retryChannels', 'retryKind', 'retryAt', 'retryToken')
  return {'reminded', since, openedAt, ARGV[3], tostring(n)}
end
return {'unchanged', since, openedAt, tostring(last), tostring(n)}
`;

// KEYS: incident hash. ARGV: channels json ('' when every channel accepted), notice kind, now ms,
// new token, expected token ('' after a new notice). Only while the incident is still open (a clear in
// between has its own resolved notice), and, after a retry, only if no newer notice (a reminder, or
// another retry) has recorded its own outcome since: the token says whose outcome is current.
const RECORD_MISSED_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[5] ~= '' and redis.call('HGET', KEYS[1], 'retryToken') ~= ARGV[5] then return 0 end
if ARGV[1] == '' then
  redis.call('HDEL', KEYS[1], 'retryChannels', 'retryKind', 'retryAt', 'retryToken')
else
  redis.call('HSET', KEYS[1], 'retryChannels', ARGV[1], 'retryKind', ARGV[2], 'retryAt', ARGV[3], 'retryToken', ARGV[4])
end
return 1
`;

// KEYS: incident hash. ARGV: now ms, retry ms, new token. Claims the retry of the notice some
// channels missed (for retry ms: the lease): returns {kind, channels json, token}, or nothing when
// none is pending or it is not due yet.
const CLAIM_MISSED_SCRIPT = `
local missed = redis.call('HGET', KEYS[1], 'retryChannels')
if not missed then return {} end
if tonumber(ARGV[1]) - tonumber(redis.call('HGET', KEYS[1], 'retryAt') or '0') < tonumber(ARGV[2]) then return {} end
redis.call('HSET', KEYS[1], 'retryAt', ARGV[1], 'retryToken', ARGV[3])
return {redis.call('HGET', KEYS[1], 'retryKind') or 'opened', missed, ARGV[3]}
`;

// KEYS: incident hash, open set. ARGV: key, the event it must still hold ('' for any). Returns the
// incident's fields, or nothing when it is not open (or holds another event).
const CLEAR_SCRIPT = `
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'event') ~= ARGV[2] then return {} end
local fields = redis.call('HGETALL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if #fields > 0 then redis.call('DEL', KEYS[1]) end
return fields
`;

// KEYS: unsent resolved hash, unsent set, incident hash. ARGV: key, ttl ms, then field/value pairs.
// Keeps a resolved notice some channels missed, unless the incident has opened again meanwhile.
const KEEP_UNSENT_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;

// KEYS: unsent resolved hash, unsent set, incident hash. ARGV: key, now ms, retry ms.
// Claims the retry of one unsent resolved notice; nothing when it expired, is not due, or the
// incident has opened again (then the late "resolved" is dropped: it must not follow a new "opened").
const CLAIM_RESOLVED_SCRIPT = `
local complete = redis.call('HGET', KEYS[1], 'resolvedAt') and redis.call('HGET', KEYS[1], 'channels')
if not complete or redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  return {}
end
if tonumber(ARGV[2]) - tonumber(redis.call('HGET', KEYS[1], 'retryAt') or '0') < tonumber(ARGV[3]) then return {} end
redis.call('HSET', KEYS[1], 'retryAt', ARGV[2])
return redis.call('HGETALL', KEYS[1])
`;

// KEYS: unsent resolved hash, unsent set. ARGV: key, channels json ('' when all got it now).
// Records the channels that still miss the notice; an expired or dropped record stays gone.
const UPDATE_UNSENT_SCRIPT = `
if ARGV[2] == '' or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'channels', ARGV[2])
return 1
`;

export class IncidentManager {
  readonly #redis: Redis;
  readonly #channels: readonly AlertChannel[];
  readonly #repeatMs: number;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #delivery: DeliveryOptions;
  readonly #retryMs: number;

  constructor(options: IncidentManagerOptions) {
    this.#redis = options.redis;
    this.#channels = options.channels;
    this.#repeatMs = options.repeatMs;
    this.#prefix = options.prefix ?? DEFAULT_INCIDENT_PREFIX;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
    this.#delivery = { ...options.delivery, logger: this.#logger };
    this.#retryMs = Math.min(options.retryMs ?? DEFAULT_NOTICE_RETRY_MS, options.repeatMs);
  }

  /** Opens the incident `key` or, while open, notifies again once `repeatMs` has passed. */
  async raise(key: string, event: AlertEvent): Promise<RaiseOutcome> {
    return this.#raise(key, event, "opened");
  }

  /**
   * Closes the incident `key` with a resolved notice; nothing happens when it is not open.
   * `resolvedBecause` says why when it is not that the condition cleared (e.g. its target was removed).
   * `onlyIf` closes it only while its event passes: the event is read, judged and cleared only if it
   * is still the same, so a raise that replaced it meanwhile (a newer failure) stays open.
   */
  async clear(
    key: string,
    options: { resolvedBecause?: string; onlyIf?: (event: AlertEvent) => boolean } = {},
  ): Promise<ClearOutcome> {
    let expected = "";
    if (options.onlyIf) {
      const raw = await this.#call(() => this.#redis.hget(this.#incidentKey(key), "event"));
      const incident = raw === null ? null : parseIncident({ key, event: raw });
      if (!incident || !options.onlyIf(incident.event)) return { resolved: false, deliveries: [] };
      expected = raw as string;
    }
    const fields = (await this.#call(() =>
      this.#redis.eval(CLEAR_SCRIPT, 2, this.#incidentKey(key), this.#openKey(), key, expected),
    )) as string[];
    if (fields.length === 0) return { resolved: false, deliveries: [] };
    const incident = parseIncident(pairs(fields));
    if (!incident) return { resolved: false, deliveries: [] };
    this.#logger.info({ incident: key, type: incident.event.type }, "incident resolved");
    const at = this.#now();
    const because = options.resolvedBecause;
    const deliveries = await this.#notify("resolved", incident, this.#channels, at, {}, because);
    const missed = missedChannels(deliveries);
    if (missed.length > 0) await this.#keepUnsentResolved(incident, missed, at, because);
    return { resolved: true, incident, deliveries };
  }

  /**
   * Sends the resolved notices that some channels missed again, to those channels, once each is due
   * (`retryMs` after the last try). `reconcile` calls it on every pass. Returns the incident keys tried.
   */
  async retryUnsentResolved(pass: RetryPass = newRetryPass()): Promise<string[]> {
    const tried: string[] = [];
    const keys = await this.#call(() => this.#redis.smembers(this.#unsentSetKey()));
    for (const key of keys.sort()) {
      const fields = (await this.#call(() =>
        this.#redis.eval(
          CLAIM_RESOLVED_SCRIPT,
          3,
          this.#unsentKey(key),
          this.#unsentSetKey(),
          this.#incidentKey(key),
          key,
          String(this.#now().getTime()),
          String(this.#retryMs),
        ),
      )) as string[];
      if (fields.length === 0) continue;
      const record = pairs(fields);
      const incident = parseIncident(record);
      const channels = this.#channelsNamed(record.channels);
      const due = channels.filter((c) => !pass.failed.has(c.name));
      const deliveries =
        incident && due.length > 0
          ? await this.#retryTo(
              due,
              "resolved",
              incident,
              pass,
              new Date(Number(record.resolvedAt)),
              record.resolvedBecause,
            )
          : [];
      if (incident && due.length > 0) tried.push(key);
      // Channels not tried (down earlier in this pass) still miss it; a channel removed from the
      // config since, or an unreadable record, is dropped.
      const skipped = channels.filter((c) => !due.includes(c)).map((c) => c.name);
      const missed = incident ? [...missedChannels(deliveries), ...skipped] : [];
      await this.#call(() =>
        this.#redis.eval(
          UPDATE_UNSENT_SCRIPT,
          2,
          this.#unsentKey(key),
          this.#unsentSetKey(),
          key,
          missed.length > 0 ? JSON.stringify(missed) : "",
        ),
      );
    }
    return tried;
  }

  /**
   * Makes the alert state match the conditions that hold now: raises each condition and clears every
   * open incident of `scope` that is not among them. See the top of this file for what happens when
   * the state was lost.
   */
  async reconcile(conditions: readonly Condition[], scope: ReconcileScope): Promise<ReconcileReport> {
    const marker = await this.#call(() => this.#redis.set(this.#stateKey(), this.#now().toISOString(), "NX"));
    const rebuilt = marker === "OK";
    if (rebuilt)
      this.#logger.warn(
        { prefix: this.#prefix },
        "alert state not found in Redis; rebuilding it from the current evaluation",
      );

    const report: ReconcileReport = {
      rebuilt,
      opened: [],
      reannounced: [],
      reminded: [],
      retried: [],
      resolved: [],
      unchanged: [],
      resolvedRetried: [],
    };
    const holding = new Map(conditions.map((c) => [c.key, c.event]));
    for (const [key, event] of holding) {
      const outcome = await this.#raise(key, event, rebuilt ? "still-open" : "opened");
      report[outcome.action].push(key);
    }

    const events = new Set(scope.events);
    const targets = scope.targets ? new Set(scope.targets) : null;
    for (const incident of await this.openIncidents()) {
      if (holding.has(incident.key) || !events.has(incident.event.type)) continue;
      if (targets && (incident.event.target === undefined || !targets.has(incident.event.target))) continue;
      if ((await this.clear(incident.key)).resolved) report.resolved.push(incident.key);
    }
    // One pass: a channel that fails once is not tried again for the other incidents until the next.
    const pass = newRetryPass();
    report.retried = await this.retryMissedNotices(pass);
    report.resolvedRetried = await this.retryUnsentResolved(pass);
    return report;
  }

  /**
   * Sends the notices of open incidents that some channels missed again, to those channels, once each
   * is due (`retryMs` after the last try). `reconcile` calls it on every pass, for incidents raised by
   * events too. Returns the incident keys tried.
   */
  async retryMissedNotices(pass: RetryPass = newRetryPass()): Promise<string[]> {
    const tried: string[] = [];
    for (const incident of await this.openIncidents()) {
      const claim = (await this.#call(() =>
        this.#redis.eval(
          CLAIM_MISSED_SCRIPT,
          1,
          this.#incidentKey(incident.key),
          String(this.#now().getTime()),
          String(this.#retryMs),
          randomUUID(),
        ),
      )) as string[];
      if (claim.length === 0) continue;
      const [kind, names, token] = claim as [NoticeKind, string, string];
      const channels = this.#channelsNamed(names);
      // A channel down earlier in this pass waits for the next due pass; one removed from the config
      // since is dropped (an empty list clears the retry).
      const due = channels.filter((c) => !pass.failed.has(c.name));
      if (due.length > 0) {
        tried.push(incident.key);
        this.#logger.info(
          { incident: incident.key, notice: kind, channels: due.map((c) => c.name) },
          "sending a missed notice again",
        );
      }
      const deliveries = await this.#retryTo(due, kind, incident, pass);
      const skipped = channels
        .filter((c) => !due.includes(c))
        .map((c) => ({ channel: c.name, ok: false, attempts: 0 }));
      await this.#recordMissed(incident.key, kind, [...deliveries, ...skipped], token);
    }
    return tried;
  }

  /** One attempt per channel (the next pass is the next try), remembering which failed in this pass. */
  async #retryTo(
    channels: readonly AlertChannel[],
    kind: NoticeKind,
    incident: Incident,
    pass: RetryPass,
    at?: Date,
    resolvedBecause?: string,
  ): Promise<DeliveryReport[]> {
    const deliveries = await this.#notify(kind, incident, channels, at, { attempts: 1 }, resolvedBecause);
    for (const d of deliveries) if (!d.ok) pass.failed.add(d.channel);
    return deliveries;
  }

  /** Every open incident, oldest first. */
  async openIncidents(): Promise<Incident[]> {
    const keys = await this.#call(() => this.#redis.smembers(this.#openKey()));
    if (keys.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const key of keys) pipeline.hgetall(this.#incidentKey(key));
    const results = (await this.#call(() => pipeline.exec())) ?? [];
    const incidents: Incident[] = [];
    results.forEach(([error, fields], index) => {
      const incident = error ? null : parseIncident(fields as Record<string, string>);
      if (incident) incidents.push(incident);
      // A set member without its hash was cleared half way by an older version: drop it.
      else if (!error) void this.#redis.srem(this.#openKey(), keys[index] as string).catch(() => undefined);
    });
    // Ties (incidents of one evaluation pass) by key: a Redis set has no order, and a pass that can
    // retry only some of them must pick the same ones every time.
    return incidents.sort(
      (a, b) => a.openedAt.getTime() - b.openedAt.getTime() || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
  }

  async countOpen(): Promise<number> {
    return this.#call(() => this.#redis.scard(this.#openKey()));
  }

  /** Closes the channels (the Redis connection belongs to the caller). */
  async close(): Promise<void> {
    await Promise.all(this.#channels.map((c) => c.close().catch(() => undefined)));
  }

  async #raise(key: string, event: AlertEvent, openKind: "opened" | "still-open"): Promise<RaiseOutcome> {
    const now = this.#now();
    const since = Date.parse(event.since);
    const reply = (await this.#call(() =>
      this.#redis.eval(
        RAISE_SCRIPT,
        4,
        this.#incidentKey(key),
        this.#openKey(),
        this.#unsentKey(key),
        this.#unsentSetKey(),
        key,
        JSON.stringify(event),
        String(now.getTime()),
        String(this.#repeatMs),
        String(Number.isNaN(since) ? now.getTime() : since),
      ),
    )) as string[];
    const [transition, sinceMs, openedMs, lastMs, count] = reply;
    const incident: Incident = {
      key,
      event,
      since: new Date(Number(sinceMs)),
      openedAt: new Date(Number(openedMs)),
      lastNotifiedAt: new Date(Number(lastMs)),
      notifications: Number(count),
    };
    if (transition === "unchanged") return { action: "unchanged", incident, deliveries: [] };
    const kind: NoticeKind = transition === "opened" ? openKind : "reminder";
    const action: RaiseAction =
      kind === "opened" ? "opened" : kind === "still-open" ? "reannounced" : "reminded";
    this.#logger.info({ incident: key, type: event.type, action }, `incident ${action}`);
    const deliveries = await this.#notify(kind, incident);
    await this.#recordMissed(key, kind, deliveries);
    return { action, incident, deliveries };
  }

  #notify(
    kind: NoticeKind,
    incident: Incident,
    channels: readonly AlertChannel[] = this.#channels,
    at: Date = this.#now(),
    policy: Partial<DeliveryOptions> = {},
    resolvedBecause?: string,
  ): Promise<DeliveryReport[]> {
    const notice: Notice = {
      kind,
      key: incident.key,
      event: incident.event,
      since: incident.since,
      openedAt: incident.openedAt,
      at,
      ...(resolvedBecause ? { resolvedBecause } : {}),
    };
    return deliver(channels, notice, { ...this.#delivery, ...policy });
  }

  /** Remembers which channels missed an open incident's notice, so the next raise sends it to them. */
  async #recordMissed(
    key: string,
    kind: NoticeKind,
    deliveries: readonly DeliveryReport[],
    claimedToken = "",
  ): Promise<void> {
    const missed = missedChannels(deliveries);
    await this.#call(() =>
      this.#redis.eval(
        RECORD_MISSED_SCRIPT,
        1,
        this.#incidentKey(key),
        missed.length > 0 ? JSON.stringify(missed) : "",
        kind,
        String(this.#now().getTime()),
        randomUUID(),
        claimedToken,
      ),
    );
  }

  async #keepUnsentResolved(
    incident: Incident,
    missed: readonly string[],
    resolvedAt: Date,
    resolvedBecause?: string,
  ): Promise<void> {
    const fields: Record<string, string> = {
      key: incident.key,
      event: JSON.stringify(incident.event),
      since: String(incident.since.getTime()),
      openedAt: String(incident.openedAt.getTime()),
      lastNotifiedAt: String(incident.lastNotifiedAt.getTime()),
      notifications: String(incident.notifications),
      resolvedAt: String(resolvedAt.getTime()),
      retryAt: String(resolvedAt.getTime()),
      channels: JSON.stringify(missed),
      ...(resolvedBecause ? { resolvedBecause } : {}),
    };
    await this.#call(() =>
      this.#redis.eval(
        KEEP_UNSENT_SCRIPT,
        3,
        this.#unsentKey(incident.key),
        this.#unsentSetKey(),
        this.#incidentKey(incident.key),
        incident.key,
        String(UNSENT_RESOLVED_TTL_MS),
        ...Object.entries(fields).flat(),
      ),
    );
  }

  /** The configured channels among the names stored in Redis (a channel removed since is skipped). */
  #channelsNamed(json: string | undefined): AlertChannel[] {
    let names: unknown;
    try {
      names = JSON.parse(json ?? "[]");
    } catch {
      return [];
    }
    return Array.isArray(names) ? this.#channels.filter((c) => names.includes(c.name)) : [];
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new HavenError(
        "TRANSIENT",
        `the alert state in Redis cannot be read or written: ${(error as Error).message}`,
        {
          hint: "check that Redis (config key `redis`) is up; alerts resume when it is",
          cause: error,
        },
      );
    }
  }

  #incidentKey(key: string): string {
    return `${this.#prefix}:incident:${key}`;
  }

  #openKey(): string {
    return `${this.#prefix}:open`;
  }

  #stateKey(): string {
    return `${this.#prefix}:state`;
  }

  #unsentKey(key: string): string {
    return `${this.#prefix}:unsent-resolved:${key}`;
  }

  #unsentSetKey(): string {
    return `${this.#prefix}:unsent-resolved`;
  }
}

/** What one reconcile pass learnt: channels that failed in it are not tried again until the next. */
export interface RetryPass {
  failed: Set<string>;
}

function newRetryPass(): RetryPass {
  return { failed: new Set() };
}

function missedChannels(deliveries: readonly DeliveryReport[]): string[] {
  return deliveries.filter((d) => !d.ok).map((d) => d.channel);
}

function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

function parseIncident(fields: Record<string, string>): Incident | null {
  if (!fields.key || !fields.event) return null;
  try {
    return {
      key: fields.key,
      event: JSON.parse(fields.event) as AlertEvent,
      since: new Date(Number(fields.since)),
      openedAt: new Date(Number(fields.openedAt)),
      lastNotifiedAt: new Date(Number(fields.lastNotifiedAt)),
      notifications: Number(fields.notifications),
    };
  } catch {
    return null;
  }
}
