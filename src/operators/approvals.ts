/**
 * Guarded restores: a restore over a protected target's original location needs a second operator's
 * approval, or a break-glass that is audited and alerted at once.
 *
 * Flow (each step audited in the destination's audit log):
 * 1. `requestRestore`: an operator (or admin) asks to restore one snapshot of a target to a place
 *    (over the original by default). The request expires after `requestTtlMs` (default 24 h).
 * 2. `approve`: an admin with a different identity than the requester approves it. The requester
 *    approving their own request is refused, and so is an expired, already approved or used one, and
 *    one made more than 5 minutes ahead of the approver's clock (its expiry would be as far off).
 * 3. `consumeApproval`: whoever runs the restore (the requester, or any admin) checks the request is
 *    approved, unexpired, unused and is for exactly this target, snapshot, place, `--include` and
 *    `--force` (restore-terms.ts; the approval records them), and marks it used; a request releases one restore. The executor then audits the restore itself, naming the
 *    request in the record's detail.
 * `breakGlass`: an admin bypasses approval in an emergency, with a reason; it is audited first (no
 * audit, no break-glass) and the returned event is for the caller to alert immediately.
 *
 * Identities are compared by operator name (identity.ts). On installs without `operators:` the name is
 * the OS user, or an unverified `--as`: configure operators with tokens where four eyes must mean four
 * eyes. Anyone with write access to the bucket can forge request objects; the audit trail is where
 * such a forgery shows (an approval with no `approve` record).
 */
import type { Redis } from "ioredis";
import type { AuditLog } from "../audit/log";
import { withWaitingLock } from "../audit/lock";
import type { AuditActor, AuditRecord } from "../audit/record";
import { formatDuration } from "../lib/duration";
import { HavenError, isHavenError } from "../lib/errors";
import { silentLogger, type Logger } from "../lib/logger";
import type { StorageBackend } from "../storage/types";
import { authorize } from "./authorize";
import { describeOperator, operatorActor, type Operator } from "./identity";
import {
  approvalSchema,
  assertRequestId,
  newRequestId,
  readStored,
  requestIdOfKey,
  requestKeys,
  requestNotFound,
  REQUESTS_PREFIX,
  restoreRequestSchema,
  termsOfRequest,
  usageSchema,
  writeOnce,
  type OperatorStamp,
  type RestoreTerms,
  type StoredApproval,
  type StoredRestoreRequest,
  type StoredUsage,
} from "./request-store";
import { describeTerms, flagDifferences, otherRestore, requestCommand, restoreFlags } from "./restore-terms";
import { roleAllows } from "./roles";

export const DEFAULT_REQUEST_TTL_MS = 24 * 3_600_000;
/** How far ahead of the approver's clock a request may have been made (hosts' clocks differ a little). */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** A break-glass reason must say something: at least this many characters. */
export const MIN_BREAK_GLASS_REASON = 8;

export type RequestState = "pending" | "approved" | "used" | "expired";

/** A request with its approval and use, and its state at the time it was read. */
export interface RestoreRequest extends StoredRestoreRequest {
  state: RequestState;
  approval?: StoredApproval;
  usage?: StoredUsage;
}

export interface RestoreRequestInput {
  target: string;
  /** A resolved snapshot id: an approval is for one snapshot, never "the newest at the time". */
  snapshot: string;
  /** Where to restore; omitted or null: over the original location. */
  to?: string | null;
  /** `--include` patterns; omitted or empty: the whole snapshot. */
  include?: readonly string[];
  /** `--force`: write into a non-empty directory or an existing database. */
  force?: boolean;
  /** Why, for the approver and the audit trail. */
  reason?: string;
  /** Default: the `requestTtlMs` option. */
  ttlMs?: number;
}

/** What a restore about to run is; `consumeApproval` refuses a request approved for anything else. */
export interface RestoreExpectation {
  target: string;
  snapshot: string;
  to?: string | null;
  include?: readonly string[];
  force?: boolean;
}

export interface BreakGlassInput {
  reason: string;
  target: string;
  snapshot?: string;
  to?: string | null;
}

/** A break-glass that happened: the caller raises an immediate alert from it. */
export interface BreakGlassEvent {
  type: "break-glass";
  at: string;
  target: string;
  snapshot?: string;
  /** null: over the original location. */
  to: string | null;
  reason: string;
  operator: string;
  actor: AuditActor;
  /** The audit record written for it. */
  audit: { seq: number; sha256: string };
  /** One sentence for the alert. */
  summary: string;
  /** Facts for the alert, never a secret. */
  details: Record<string, string | number>;
}

export interface RestoreApprovalsOptions {
  /** Serializes the single use of an approval across processes (needed where create-only is not atomic). */
  redis?: Redis;
  /** Redis key prefix: the config's `queuePrefix`. Default "haven". */
  lockPrefix?: string;
  /** How long a request stays valid. Default 24 h. */
  requestTtlMs?: number;
  clock?: () => Date;
  logger?: Logger;
}

export class RestoreApprovals {
  readonly #storage: StorageBackend;
  readonly #audit: AuditLog;
  readonly #options: RestoreApprovalsOptions;
  readonly #clock: () => Date;
  readonly #logger: Logger;

  /** `storage` holds the requests; `audit` records every step (normally the same destination's log). */
  constructor(storage: StorageBackend, audit: AuditLog, options: RestoreApprovalsOptions = {}) {
    this.#storage = storage;
    this.#audit = audit;
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#logger = options.logger ?? silentLogger;
  }

  /** Creates a pending request and audits it (outcome "requested"). Needs the operator role. */
  async requestRestore(requester: Operator, input: RestoreRequestInput): Promise<RestoreRequest> {
    try {
      authorize(requester, "request-restore", input.target);
    } catch (error) {
      await this.#auditRefusal(requester, "request", input, error);
      throw error;
    }
    const ttlMs = input.ttlMs ?? this.#options.requestTtlMs ?? DEFAULT_REQUEST_TTL_MS;
    const now = this.#clock();
    for (let attempt = 1; ; attempt++) {
      const request: StoredRestoreRequest = {
        formatVersion: 1,
        id: newRequestId(),
        kind: "restore",
        target: input.target,
        snapshot: input.snapshot,
        to: input.to ?? null,
        include: [...(input.include ?? [])],
        force: input.force === true,
        ...(input.reason ? { reason: input.reason } : {}),
        requestedBy: stamp(requester),
        requestedAt: now.toISOString(),
        expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      };
      const key = requestKeys(request.id).request;
      try {
        await writeOnce(this.#storage, key, request);
      } catch (error) {
        if (isHavenError(error, "ALREADY_EXISTS") && attempt < 3) continue;
        throw error;
      }
      await this.#auditOrUndo(key, {
        action: "request",
        outcome: "requested",
        actor: operatorActor(requester),
        target: request.target,
        snapshot: request.snapshot,
        detail: {
          request: request.id,
          to: request.to,
          include: request.include,
          force: request.force,
          expiresAt: request.expiresAt,
          reason: request.reason,
        },
      });
      return { ...request, state: "pending" };
    }
  }

  /**
   * Approves a pending request, and audits it. Refused (HavenError REFUSED, audited as "refused")
   * when the approver is not an admin, is the requester, or the request is expired, used or already
   * approved.
   */
  async approve(requestId: string, approver: Operator): Promise<RestoreRequest> {
    const request = await this.get(requestId);
    const refuse = async (message: string, hint: string): Promise<never> => {
      const error = new HavenError("REFUSED", message, { hint });
      await this.#auditRefusal(approver, "approve", request, error);
      throw error;
    };
    try {
      authorize(approver, "approve", request.target);
    } catch (error) {
      await this.#auditRefusal(approver, "approve", request, error);
      throw error;
    }
    await this.#refuseUnlessOpen(request, refuse);
    // The request's times come from the requester's clock: one running ahead would make an approval
    // meant for the TTL last as long again as the clock is fast.
    const ahead = Date.parse(request.requestedAt) - this.#clock().getTime();
    if (ahead > MAX_CLOCK_SKEW_MS) {
      await refuse(
        `restore request ${request.id} was made at ${request.requestedAt}, ${formatDuration(ahead)} after this host's time: ` +
          `the clock of ${request.requestedBy.host} or of this host is wrong`,
        "set the clocks right (NTP), then request the restore again",
      );
    }
    if (request.state === "approved") {
      await refuse(
        `request ${request.id} is already approved by ${request.approval?.approvedBy.name}`,
        "nothing to do: the requester can run the restore now",
      );
    }
    if (approver.name === request.requestedBy.name) {
      await refuse(
        `${approver.name} requested ${request.id} and cannot also approve it`,
        `a different operator must approve it: ask another admin to run \`haven approve ${request.id}\``,
      );
    }

    const approves = termsOfRequest(request);
    const approval: StoredApproval = {
      formatVersion: 1,
      requestId: request.id,
      approvedBy: stamp(approver),
      approvedAt: this.#clock().toISOString(),
      approves,
    };
    const key = requestKeys(request.id).approval;
    try {
      await writeOnce(this.#storage, key, approval);
    } catch (error) {
      if (!isHavenError(error, "ALREADY_EXISTS")) throw error;
      const winner = await readStored(this.#storage, key, approvalSchema);
      return refuse(
        `request ${request.id} was just approved by ${winner?.approvedBy.name ?? "another operator"}`,
        "nothing to do: the requester can run the restore now",
      );
    }
    await this.#auditOrUndo(key, {
      action: "approve",
      outcome: "ok",
      actor: operatorActor(approver),
      target: request.target,
      snapshot: request.snapshot,
      detail: {
        request: request.id,
        requestedBy: request.requestedBy.name,
        to: approves.to,
        include: approves.include,
        force: approves.force,
        expiresAt: request.expiresAt,
      },
    });
    return { ...request, state: "approved", approval };
  }

  /**
   * For the process about to run a restore under request `requestId`: checks that the request is
   * approved, unexpired, unused, for exactly `expected`, and that `executor` is its requester (still
   * of the operator role) or an admin; then marks it used, so it releases this one restore only. Throws HavenError REFUSED
   * otherwise. Not audited here: the executor audits the restore, with `request: <id>` in its detail.
   */
  async consumeApproval(
    requestId: string,
    executor: Operator,
    expected: RestoreExpectation,
  ): Promise<RestoreRequest> {
    assertRequestId(requestId);
    const redis = this.#options.redis;
    const consume = () => this.#consume(requestId, executor, expected);
    if (!redis) return consume();
    return withWaitingLock(
      redis,
      `${this.#options.lockPrefix ?? "haven"}:lock:request:${requestId}`,
      consume,
      {
        what: `restore request ${requestId}`,
      },
    );
  }

  /**
   * Records a break-glass restore: an admin bypasses approval, giving a reason. Audited before it
   * returns (if the audit cannot be written, it throws and the restore must not run); the returned
   * event is for the caller to raise an immediate alert.
   */
  async breakGlass(operator: Operator, input: BreakGlassInput): Promise<BreakGlassEvent> {
    const reason = input.reason.trim();
    if (reason.length < MIN_BREAK_GLASS_REASON) {
      throw new HavenError("USAGE", "break-glass needs a reason", {
        hint: `say why approval is bypassed, e.g. --reason "orders-db lost, incident 4711" (at least ${MIN_BREAK_GLASS_REASON} characters)`,
      });
    }
    const to = input.to ?? null;
    try {
      authorize(operator, "break-glass", input.target);
    } catch (error) {
      await this.#auditRefusal(operator, "break-glass", { ...input, to }, error);
      throw error;
    }
    const actor = operatorActor(operator);
    const record: AuditRecord = await this.#audit.append({
      action: "break-glass",
      outcome: "ok",
      actor,
      target: input.target,
      snapshot: input.snapshot,
      detail: { reason, to },
    });
    const where = to === null ? "over its original location" : `to ${to}`;
    return {
      type: "break-glass",
      at: record.at,
      target: input.target,
      ...(input.snapshot === undefined ? {} : { snapshot: input.snapshot }),
      to,
      reason,
      operator: operator.name,
      actor,
      audit: { seq: record.seq, sha256: record.sha256 },
      summary: `${describeOperator(operator)} bypassed restore approval to restore ${input.target} ${where}: ${reason}`,
      details: {
        operator: operator.name,
        user: `${actor.user}@${actor.host}`,
        ...(input.snapshot === undefined ? {} : { snapshot: input.snapshot }),
        to: to ?? "original location",
        reason,
        "audit record": `#${record.seq}`,
      },
    };
  }

  /** One request with its approval and use. HavenError NOT_FOUND for an unknown id. */
  async get(requestId: string): Promise<RestoreRequest> {
    assertRequestId(requestId);
    const keys = requestKeys(requestId);
    const request = await readStored(this.#storage, keys.request, restoreRequestSchema);
    if (!request) throw requestNotFound(requestId, this.#storage);
    const [approval, usage] = await Promise.all([
      readStored(this.#storage, keys.approval, approvalSchema),
      readStored(this.#storage, keys.used, usageSchema),
    ]);
    const state: RequestState = usage
      ? "used"
      : this.#clock().getTime() >= Date.parse(request.expiresAt)
        ? "expired"
        : approval
          ? "approved"
          : "pending";
    return {
      ...request,
      state,
      ...(approval ? { approval } : {}),
      ...(usage ? { usage } : {}),
    };
  }

  /** Every request on the destination, oldest first (for `haven requests`). */
  async list(): Promise<RestoreRequest[]> {
    const ids: string[] = [];
    for await (const object of this.#storage.list(REQUESTS_PREFIX)) {
      const id = requestIdOfKey(object.key);
      if (id) ids.push(id);
    }
    const requests = await Promise.all(ids.map((id) => this.get(id)));
    return requests.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  /**
   * Everything `consumeApproval` checks, without using the approval: a restore asks first, and uses
   * it only once its own checks of the destination passed (`RestoreOptions.beforeWrite`), so a
   * restore refused for a non-empty folder does not need a second approval.
   */
  async checkApproval(requestId: string, executor: Operator, expected: RestoreExpectation): Promise<void> {
    assertRequestId(requestId);
    await this.#approvedFor(requestId, executor, expected);
  }

  async #consume(
    requestId: string,
    executor: Operator,
    expected: RestoreExpectation,
  ): Promise<RestoreRequest> {
    const request = await this.#approvedFor(requestId, executor, expected);
    const refuse = (message: string, hint: string): never => {
      throw new HavenError("REFUSED", message, { hint });
    };
    const usage: StoredUsage = {
      formatVersion: 1,
      requestId: request.id,
      usedBy: stamp(executor),
      usedAt: this.#clock().toISOString(),
    };
    try {
      await writeOnce(this.#storage, requestKeys(request.id).used, usage);
    } catch (error) {
      if (!isHavenError(error, "ALREADY_EXISTS")) throw error;
      refuse(
        `restore request ${request.id} was already used`,
        "an approval releases one restore: request a new one",
      );
    }
    return { ...request, state: "used", usage };
  }

  /** The request, when it is approved, open, for exactly `expected`, and `executor` may run it. */
  async #approvedFor(
    requestId: string,
    executor: Operator,
    expected: RestoreExpectation,
  ): Promise<RestoreRequest> {
    // The role now, not at request time: an operator lowered to viewer since then runs no restore.
    authorize(executor, "request-restore", expected.target);
    const request = await this.get(requestId);
    const refuse = (message: string, hint: string): never => {
      throw new HavenError("REFUSED", message, { hint });
    };
    await this.#refuseUnlessOpen(request, refuse);
    if (request.state !== "approved") {
      refuse(
        `restore request ${request.id} is not approved yet`,
        `ask an admin other than ${request.requestedBy.name} to run \`haven approve ${request.id}\``,
      );
    }
    // What the approver approved: the approval's own record, or (stored before it had one) the request.
    const approved = request.approval?.approves ?? termsOfRequest(request);
    const run: RestoreTerms = {
      target: expected.target,
      snapshot: expected.snapshot,
      to: expected.to ?? null,
      include: [...(expected.include ?? [])],
      force: expected.force === true,
    };
    if (otherRestore(approved, run)) {
      refuse(
        `restore request ${request.id} approved restoring ${describeTerms(approved)}, not ${describeTerms(run)}`,
        `run exactly the approved restore, or request approval for this one: ${requestCommand(run)}`,
      );
    }
    const differences = flagDifferences(approved, run);
    if (differences.length > 0) {
      const unrecorded = request.approval?.approves === undefined && request.include === undefined;
      const flags = restoreFlags(approved);
      refuse(
        `restore request ${request.id} does not approve this restore: ${differences.join("; ")}` +
          (unrecorded
            ? " (it was made before requests recorded --include and --force, so it approves neither)"
            : ""),
        `run it ${flags === "" ? "without --include and --force" : `with ${flags}`} as approved, or request approval for this one: ${requestCommand(run)}`,
      );
    }
    if (executor.name !== request.requestedBy.name && !roleAllows(executor.role, "restore-in-place")) {
      refuse(
        `${describeOperator(executor)} may not run restore request ${request.id} of ${request.requestedBy.name}`,
        "the requester or an admin runs an approved restore",
      );
    }
    return request;
  }

  /** Refuses a used or expired request, with the words for each. */
  async #refuseUnlessOpen(
    request: RestoreRequest,
    refuse: (message: string, hint: string) => Promise<never> | never,
  ): Promise<void> {
    if (request.state === "used") {
      await refuse(
        `restore request ${request.id} was already used by ${request.usage?.usedBy.name} at ${request.usage?.usedAt}`,
        "an approval releases one restore: request a new one with `haven restore ... --request`",
      );
    }
    if (request.state === "expired") {
      const age = this.#clock().getTime() - Date.parse(request.requestedAt);
      await refuse(
        `restore request ${request.id} expired at ${request.expiresAt} (${formatDuration(age)} after it was made)`,
        "request it again with `haven restore ... --request`",
      );
    }
  }

  /**
   * Audits a step whose object was just written; if the audit cannot be written, removes the object
   * again and rethrows, so no request or approval exists without its audit record.
   */
  async #auditOrUndo(key: string, entry: Parameters<AuditLog["append"]>[0]): Promise<void> {
    try {
      await this.#audit.append(entry);
    } catch (error) {
      await this.#storage.remove([key]).catch((undo: unknown) => {
        this.#logger.error(
          { key, err: undo instanceof Error ? undo.message : String(undo) },
          "could not remove an unaudited request object; remove it by hand",
        );
      });
      throw error;
    }
  }

  /** Audits a refused attempt, best effort: the refusal stands even when the audit log is unreachable. */
  async #auditRefusal(
    operator: Operator,
    action: "request" | "approve" | "break-glass",
    about: { target: string; snapshot?: string; id?: string; to?: string | null },
    error: unknown,
  ): Promise<void> {
    try {
      await this.#audit.append({
        action,
        outcome: "refused",
        actor: operatorActor(operator),
        target: about.target,
        snapshot: about.snapshot,
        detail: {
          ...(about.id ? { request: about.id } : {}),
          to: about.to ?? null,
          refusal: error instanceof Error ? error.message : String(error),
        },
      });
    } catch (auditError) {
      this.#logger.error(
        { action, err: auditError instanceof Error ? auditError.message : String(auditError) },
        "could not audit a refused attempt",
      );
    }
  }
}

function stamp(operator: Operator): OperatorStamp {
  return {
    name: operator.name,
    role: operator.role,
    source: operator.source,
    user: operator.osUser,
    host: operator.host,
  };
}
