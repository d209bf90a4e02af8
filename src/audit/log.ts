/**
 * The audit log of one destination: append-only records under `_audit/`, hash-chained (record.ts),
 * with a head pointer (head.ts). Works with the destination alone; Redis, when given, only serializes
 * appends.
 *
 * Writers. An append reads the head, then writes the next record: two processes appending at once
 * could both chain to the same head and fork the chain. With a Redis client, appends take a short
 * lock per destination (`<prefix>:lock:audit:<location>`), so every writer sharing that Redis (serve,
 * workers, CLI commands: src/cli/audit-lock.ts) appends to one linear chain. Without Redis (a CLI
 * command when Redis does not answer, in a disaster), the log assumes a single writer at a time:
 * the head is read again before each append, which narrows the race to the milliseconds between
 * that read and the write; if it is ever lost, `verify` reports the fork, and the records themselves
 * are all kept.
 *
 * Known limit: a writer that stops between writing a record and moving the head pointer leaves the
 * pointer one record behind; the next append finds that record by listing the pointer's day and
 * today, and repairs the pointer. If that next append comes on a later day than both, it chains to
 * the pointer instead and `verify` reports a fork.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import type { Redis } from "ioredis";
import { layout } from "../catalog/layout";
import { HavenError, isHavenError } from "../lib/errors";
import { silentLogger, type Logger } from "../lib/logger";
import type { Secret } from "../lib/secret";
import { readTextIfPresent } from "../storage/read-text";
import type { StorageBackend } from "../storage/types";
import { localActor } from "./actor";
import { checkChain, type AuditProblem, type ReadAuditEntry } from "./chain";
import { headOf, readHeadPointer, writeHeadPointer, type HeadPointer } from "./head";
import { auditDayPrefix, auditDayPrefixOfKey, auditKeySecond, isAuditRecordKey } from "./keys";
import { withWaitingLock } from "./lock";
import {
  AUDIT_FORMAT_VERSION,
  auditRecordId,
  auditRecordSchema,
  sealRecord,
  serializeRecord,
  type AuditAction,
  type AuditActor,
  type AuditOutcome,
  type AuditRecord,
} from "./record";
import { redactDetail } from "./redact";
import { mapLimit } from "../lib/map-limit";

/** What a caller records; the log fills in id, seq, time and the chain. */
export interface AuditEntry {
  action: AuditAction;
  outcome: AuditOutcome;
  /** Default: this process's OS user and host, without an operator identity (`localActor()`). */
  actor?: AuditActor;
  target?: string;
  snapshot?: string;
  /** Facts worth keeping (config sha256, snapshot counts, error message, request id). Redacted before storing. */
  detail?: Readonly<Record<string, unknown>>;
}

export interface AuditLogOptions {
  /** Serializes appends across processes; without it, one writer at a time is assumed (module comment). */
  redis?: Redis;
  /** Redis key prefix of the lock: the config's `queuePrefix`. Default "haven". */
  lockPrefix?: string;
  /** How long an append waits for the lock. Default 15 s. */
  lockTimeoutMs?: number;
  /** Default `() => new Date()`; tests inject a fixed clock. */
  clock?: () => Date;
  logger?: Logger;
  /** Secrets whose clear values are scrubbed from every string of `detail` (the config's secrets). */
  secrets?: ReadonlyArray<Secret | string | undefined>;
  /** Records read at once by `list` and `verify`. Default 8. */
  readParallelism?: number;
}

export interface AuditListOptions {
  /** Only records at or after this time. */
  since?: Date;
  /** Only records before this time. */
  until?: Date;
}

export interface AuditVerifyResult {
  /** True when no problem was found (warnings do not count). */
  ok: boolean;
  /** Records read and parsed. */
  records: number;
  problems: AuditProblem[];
  /** Findings that do not mean tampering (a head pointer behind after a crash). */
  warnings: AuditProblem[];
  /** The head pointer as read, when it could be. */
  head: HeadPointer | null;
}

/** The newest record, as far as an appender knows. */
interface ChainHead {
  seq: number;
  sha256: string;
  key: string;
  at: Date;
}

const CREATE_ATTEMPTS = 3;

export class AuditLog {
  readonly storage: StorageBackend;
  readonly #options: AuditLogOptions;
  readonly #logger: Logger;
  readonly #clock: () => Date;
  /** The newest record this process appended or found: ahead of the pointer if moving it failed. */
  #cachedHead: ChainHead | null = null;

  constructor(storage: StorageBackend, options: AuditLogOptions = {}) {
    this.storage = storage;
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ audit: storage.name });
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The Redis key that serializes appends to this destination's log. */
  get lockKey(): string {
    return `${this.#options.lockPrefix ?? "haven"}:lock:audit:${this.storage.location}`;
  }

  /**
   * Appends one record and returns it as stored. The record is written create-only, then the head
   * pointer is moved; a failure to move the pointer is logged, not thrown (the record is kept and
   * the next append repairs the pointer). Throws what the storage throws when the record could not
   * be written: callers decide whether an action may proceed unaudited.
   */
  async append(entry: AuditEntry): Promise<AuditRecord> {
    const redis = this.#options.redis;
    if (!redis) return this.#appendUnlocked(entry);
    return withWaitingLock(redis, this.lockKey, () => this.#appendUnlocked(entry), {
      what: `the audit log of ${this.storage.name}`,
      timeoutMs: this.#options.lockTimeoutMs,
    });
  }

  /** Records in chain order (oldest first). Unreadable records are skipped with a warning; `verify` reports them. */
  async list(options: AuditListOptions = {}): Promise<AuditRecord[]> {
    const since = options.since?.getTime();
    const until = options.until?.getTime();
    const floor = since === undefined ? undefined : Math.floor(since / 1000) * 1000;
    const keys = (await this.#recordKeys()).filter((key) => {
      // Key times are record times truncated to the second: skip what is surely older without reading it.
      const second = auditKeySecond(key)?.getTime();
      return floor === undefined || second === undefined || second >= floor;
    });
    const records: AuditRecord[] = [];
    for (const entry of await this.#readAll(keys)) {
      if ("unreadable" in entry) {
        this.#logger.warn(
          { key: entry.key, problem: entry.unreadable },
          "skipping an unreadable audit record",
        );
        continue;
      }
      const at = Date.parse(entry.record.at);
      if ((since === undefined || at >= since) && (until === undefined || at < until))
        records.push(entry.record);
    }
    return records;
  }

  /** Reads every record and the head pointer and checks the chain (chain.ts says what is detected). */
  async verify(): Promise<AuditVerifyResult> {
    const entries = await this.#readAll(await this.#recordKeys());
    const head = await readHeadPointer(this.storage);
    const { problems, warnings } = checkChain(entries, head);
    return {
      ok: problems.length === 0,
      records: entries.filter((entry) => "record" in entry).length,
      problems,
      warnings,
      head: head.state === "ok" ? head.head : null,
    };
  }

  async #appendUnlocked(entry: AuditEntry): Promise<AuditRecord> {
    const head = await this.#findHead();
    // Never earlier than the head: keys then sort in chain order even when writers' clocks disagree.
    const now = this.#clock();
    const at = head && head.at.getTime() > now.getTime() ? head.at : now;
    const seq = (head?.seq ?? 0) + 1;
    const detail = redactDetail(entry.detail, { secrets: this.#options.secrets });
    for (let attempt = 1; ; attempt++) {
      const record = sealRecord({
        formatVersion: AUDIT_FORMAT_VERSION,
        id: auditRecordId(seq, randomBytes(4).toString("hex")),
        seq,
        at: at.toISOString(),
        actor: entry.actor ?? localActor(),
        action: entry.action,
        ...(entry.target === undefined ? {} : { target: entry.target }),
        ...(entry.snapshot === undefined ? {} : { snapshot: entry.snapshot }),
        outcome: entry.outcome,
        detail,
        prevSha256: head?.sha256 ?? null,
      });
      const key = layout.audit(at, record.id);
      try {
        await this.storage.put(key, Readable.from([Buffer.from(serializeRecord(record))]), {
          createOnly: true,
          contentType: "application/json",
        });
      } catch (error) {
        if (!isHavenError(error, "ALREADY_EXISTS")) throw error;
        // The key holds a fresh random id, so a clash is not another writer's record: the client's
        // own retry of a put whose answer was lost found the first one stored. Writing it again
        // under a new id would put two records at one seq, a fork `audit verify` reports as tampering.
        if (!(await this.#storedAs(key, record))) {
          if (attempt < CREATE_ATTEMPTS) continue;
          throw error;
        }
      }
      this.#cachedHead = { seq, sha256: record.sha256, key, at };
      await writeHeadPointer(this.storage, headOf(record, key)).catch((error: unknown) => {
        this.#logger.warn(
          { key, err: error instanceof Error ? error.message : String(error) },
          "audit record written, but not the head pointer; the next append repairs it",
        );
      });
      return record;
    }
  }

  /** True when `key` holds exactly this record (a create that succeeded though it was reported to fail). */
  async #storedAs(key: string, record: AuditRecord): Promise<boolean> {
    return (await readTextIfPresent(this.storage, key).catch(() => undefined)) === serializeRecord(record);
  }

  /**
   * The newest record: the head pointer (or this process's newer cached head), unless a listing of
   * its day and of today shows a newer record (a writer stopped before moving the pointer). Without
   * any pointer, the whole log is listed once.
   */
  async #findHead(): Promise<ChainHead | null> {
    const pointer = await readHeadPointer(this.storage);
    if (pointer.state === "unreadable") {
      this.#logger.warn({ problem: pointer.problem }, "ignoring the audit head pointer");
    }
    let known: ChainHead | null =
      pointer.state === "ok"
        ? {
            seq: pointer.head.count,
            sha256: pointer.head.sha256,
            key: pointer.head.key,
            at: new Date(pointer.head.at),
          }
        : null;
    if (this.#cachedHead && (known === null || this.#cachedHead.seq > known.seq)) known = this.#cachedHead;

    const prefixes = known
      ? [...new Set([auditDayPrefixOfKey(known.key), auditDayPrefix(this.#clock())])]
      : [layout.auditPrefix()];
    let newest: string | undefined;
    for (const prefix of prefixes) {
      for await (const object of this.storage.list(prefix)) {
        if (isAuditRecordKey(object.key) && (newest === undefined || object.key > newest))
          newest = object.key;
      }
    }
    // Nothing newer: the pointer is right. (If its own record is gone, chaining to it anyway lets
    // `verify` report the removal instead of hiding it.)
    if (newest === undefined || (known && newest <= known.key)) return known;

    const entry = await this.#readEntry(newest);
    if ("unreadable" in entry) {
      if (known) {
        this.#logger.warn(
          { key: newest, problem: entry.unreadable },
          "the newest audit record is unreadable",
        );
        return known;
      }
      throw new HavenError(
        "INTEGRITY",
        `the newest audit record ${newest} is unreadable: ${entry.unreadable}`,
        {
          hint: "run `haven audit verify` to see the state of the audit log, and restore that record from a copy",
        },
      );
    }
    const { record } = entry;
    return { seq: record.seq, sha256: record.sha256, key: newest, at: new Date(record.at) };
  }

  async #recordKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of this.storage.list(layout.auditPrefix())) {
      if (isAuditRecordKey(object.key)) keys.push(object.key);
    }
    return keys.sort();
  }

  async #readAll(keys: ReadonlyArray<string>): Promise<ReadAuditEntry[]> {
    const parallel = Math.max(1, this.#options.readParallelism ?? 8);
    return mapLimit(keys, parallel, (key) => this.#readEntry(key));
  }

  async #readEntry(key: string): Promise<ReadAuditEntry> {
    let raw: string;
    try {
      raw = await text(await this.storage.get(key));
    } catch (error) {
      if (isHavenError(error, "NOT_FOUND")) return { key, unreadable: "it vanished while the log was read" };
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { key, unreadable: "not valid JSON (altered or truncated)" };
    }
    const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
    if (typeof version === "number" && version > AUDIT_FORMAT_VERSION) {
      return { key, unreadable: `format version ${version} is newer than this Haven reads; upgrade Haven` };
    }
    const parsed = auditRecordSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        key,
        unreadable: `malformed (altered?): ${issue ? `${issue.path.join(".") || "record"}: ${issue.message}` : "invalid"}`,
      };
    }
    return { key, record: parsed.data, raw };
  }
}
