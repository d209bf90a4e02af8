import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { AuditLog } from "../../src/audit/log";
import { isHavenError, type HavenError } from "../../src/lib/errors";
import { RestoreApprovals } from "../../src/operators/approvals";
import type { Operator } from "../../src/operators/identity";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";
import { TestClock } from "../audit/helpers";

const who = (name: string, role: Operator["role"]): Operator => ({
  name,
  role,
  source: "token",
  osUser: "root",
  host: `${name}-laptop`,
});
const alice = who("alice", "admin");
const bob = who("bob", "admin");
const olga = who("olga", "operator");
const vic = who("vic", "viewer");
const restore = { target: "orders-db", snapshot: "20261122T020000Z-1a2b3c4d" };

let dir: string;
let storage: StorageBackend;
let audit: AuditLog;
let clock: TestClock;
let approvals: RestoreApprovals;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), `haven-approvals-${randomBytes(3).toString("hex")}-`));
  storage = createFilesystemBackend({ name: "nas", path: dir });
  clock = new TestClock();
  audit = new AuditLog(storage, { clock: clock.now });
  approvals = new RestoreApprovals(storage, audit, { clock: clock.now, requestTtlMs: 3_600_000 });
});
afterEach(async () => {
  await storage.close();
  await rm(dir, { recursive: true, force: true });
});

async function refusal(promise: Promise<unknown>): Promise<HavenError> {
  const error = await promise.then(
    () => new Error("expected a refusal"),
    (e: unknown) => e,
  );
  if (!isHavenError(error)) throw error;
  return error;
}

const trail = async () => (await audit.list()).map((r) => `${r.action}:${r.outcome}:${r.actor.identity}`);

test("request, approval by another admin, one use by the requester: each step stored and audited", async () => {
  const request = await approvals.requestRestore(olga, { ...restore, reason: "rollback bad migration" });
  expect(request).toMatchObject({
    id: expect.stringMatching(/^req-[0-9a-f]{10}$/),
    state: "pending",
    to: null,
    requestedBy: { name: "olga", role: "operator" },
    requestedAt: "2026-11-22T02:00:00.000Z",
    expiresAt: "2026-11-22T03:00:00.000Z",
  });

  clock.advance(60_000);
  const approved = await approvals.approve(request.id, bob);
  expect(approved.state).toBe("approved");
  expect((await approvals.get(request.id)).approval?.approvedBy).toMatchObject({
    name: "bob",
    host: "bob-laptop",
  });

  const used = await approvals.consumeApproval(request.id, olga, restore);
  expect(used.state).toBe("used");
  expect((await approvals.get(request.id)).state).toBe("used");

  expect(await trail()).toEqual(["request:requested:olga", "approve:ok:bob"]);
  const [requestRecord, approveRecord] = await audit.list();
  expect(requestRecord).toMatchObject({
    target: "orders-db",
    snapshot: restore.snapshot,
    detail: { request: request.id, to: null, reason: "rollback bad migration" },
  });
  expect(approveRecord?.detail).toMatchObject({ request: request.id, requestedBy: "olga" });
  expect((await audit.verify()).ok).toBe(true);
});

test("the requester cannot approve their own request, even as an admin; the refusal is audited", async () => {
  const request = await approvals.requestRestore(alice, restore);
  const error = await refusal(approvals.approve(request.id, alice));
  expect(error.code).toBe("REFUSED");
  expect(error.message).toBe(`alice requested ${request.id} and cannot also approve it`);
  expect(error.hint).toContain(`ask another admin to run \`haven approve ${request.id}\``);
  expect((await approvals.get(request.id)).state).toBe("pending");
  expect(await trail()).toEqual(["request:requested:alice", "approve:refused:alice"]);

  await approvals.approve(request.id, bob);
  expect(await trail()).toEqual(["request:requested:alice", "approve:refused:alice", "approve:ok:bob"]);
});

test("only admins approve; viewers cannot even request", async () => {
  const request = await approvals.requestRestore(alice, restore);
  const byOperator = await refusal(approvals.approve(request.id, olga));
  expect(byOperator.message).toMatch(/^operator olga \(operator\) may not approve restore requests/);
  expect(byOperator.hint).toContain("needs the admin role");

  const byViewer = await refusal(approvals.requestRestore(vic, restore));
  expect(byViewer.code).toBe("REFUSED");
  expect(byViewer.hint).toContain("needs the operator role");
  expect(await trail()).toEqual(["request:requested:alice", "approve:refused:olga", "request:refused:vic"]);
});

test("an approval releases one restore: a second use is refused", async () => {
  const request = await approvals.requestRestore(olga, restore);
  await approvals.approve(request.id, alice);
  await approvals.consumeApproval(request.id, olga, restore);

  const reuse = await refusal(approvals.consumeApproval(request.id, olga, restore));
  expect(reuse.code).toBe("REFUSED");
  expect(reuse.message).toMatch(new RegExp(`^restore request ${request.id} was already used by olga at `));
  const reapprove = await refusal(approvals.approve(request.id, bob));
  expect(reapprove.message).toMatch(/was already used/);
});

test("a pending request cannot be used, and a second approval is refused", async () => {
  const request = await approvals.requestRestore(olga, restore);
  const early = await refusal(approvals.consumeApproval(request.id, olga, restore));
  expect(early.message).toBe(`restore request ${request.id} is not approved yet`);
  expect(early.hint).toContain("other than olga");

  await approvals.approve(request.id, alice);
  const twice = await refusal(approvals.approve(request.id, bob));
  expect(twice.message).toBe(`request ${request.id} is already approved by alice`);
});

test("an approval is for exactly one target, snapshot and place, run by the requester or an admin", async () => {
  const request = await approvals.requestRestore(olga, { ...restore, to: null });
  await approvals.approve(request.id, alice);

  const other = await refusal(
    approvals.consumeApproval(request.id, olga, { ...restore, snapshot: "20261121T020000Z-00000000" }),
  );
  expect(other.message).toBe(
    `restore request ${request.id} approved restoring orders-db snapshot ${restore.snapshot} over the original location, ` +
      "not orders-db snapshot 20261121T020000Z-00000000 over the original location",
  );
  const elsewhere = await refusal(approvals.consumeApproval(request.id, olga, { ...restore, to: "/tmp/x" }));
  expect(elsewhere.message).toContain("not orders-db snapshot 20261122T020000Z-1a2b3c4d to /tmp/x");

  const stranger = await refusal(approvals.consumeApproval(request.id, who("otto", "operator"), restore));
  expect(stranger.message).toBe(`otto (operator) may not run restore request ${request.id} of olga`);

  // An admin other than the requester may carry it out.
  expect((await approvals.consumeApproval(request.id, bob, restore)).usage?.usedBy.name).toBe("bob");
});

test("a requester whose role was lowered to viewer after the approval may no longer run it", async () => {
  const request = await approvals.requestRestore(olga, restore);
  await approvals.approve(request.id, alice);

  const demoted = await refusal(approvals.consumeApproval(request.id, who("olga", "viewer"), restore));
  expect(demoted.code).toBe("REFUSED");
  expect(demoted.message).toMatch(/^operator olga \(viewer\) may not/);
  expect((await approvals.get(request.id)).state).toBe("approved");
});

test("an approval binds --include and --force: a restore with others is refused, naming the difference", async () => {
  const asked = { ...restore, include: ["docs", "bin/run.sh"], force: true };
  const request = await approvals.requestRestore(olga, asked);
  expect(request).toMatchObject({ include: ["docs", "bin/run.sh"], force: true });
  const approved = await approvals.approve(request.id, alice);
  // The approval itself records what it approves, as the approver saw it.
  expect(approved.approval?.approves).toEqual({
    target: "orders-db",
    snapshot: restore.snapshot,
    to: null,
    include: ["docs", "bin/run.sh"],
    force: true,
  });
  expect((await audit.list()).map((r) => r.detail)).toEqual([
    expect.objectContaining({ include: ["docs", "bin/run.sh"], force: true }),
    expect.objectContaining({ include: ["docs", "bin/run.sh"], force: true }),
  ]);

  const whole = await refusal(approvals.consumeApproval(request.id, olga, { ...restore, force: true }));
  expect(whole.code).toBe("REFUSED");
  expect(whole.message).toBe(
    `restore request ${request.id} does not approve this restore: no --include, where the approval has --include "docs" "bin/run.sh"`,
  );
  expect(whole.hint).toBe(
    `run it with --include "docs" "bin/run.sh" --force as approved, or request approval for this one: ` +
      `haven restore orders-db --snapshot ${restore.snapshot} --force --request`,
  );
  const unforced = await refusal(approvals.consumeApproval(request.id, olga, { ...asked, force: false }));
  expect(unforced.message).toContain("no --force, where the approval has --force");
  const more = await refusal(
    approvals.consumeApproval(request.id, olga, { ...asked, include: ["docs", "bin/run.sh", "etc"] }),
  );
  expect(more.message).toContain(
    '--include "docs" "bin/run.sh" "etc", where the approval has --include "docs" "bin/run.sh"',
  );
  expect((await approvals.get(request.id)).state).toBe("approved");

  // The same patterns in another order are the same restore.
  const used = await approvals.consumeApproval(request.id, olga, {
    ...asked,
    include: ["bin/run.sh", "docs"],
  });
  expect(used.state).toBe("used");
});

test("a request stored before requests recorded --include and --force approves a restore with neither", async () => {
  // As written by the previous version: no include, force or approves fields.
  const id = "req-0123456789";
  const stamp = (op: Operator) => ({
    name: op.name,
    role: op.role,
    source: op.source,
    user: op.osUser,
    host: op.host,
  });
  const put = (key: string, value: unknown) =>
    storage.put(key, Readable.from([Buffer.from(JSON.stringify(value))]), { createOnly: true });
  await put(`_requests/${id}.json`, {
    formatVersion: 1,
    id,
    kind: "restore",
    target: restore.target,
    snapshot: restore.snapshot,
    to: null,
    requestedBy: stamp(olga),
    requestedAt: "2026-11-22T02:00:00.000Z",
    expiresAt: "2026-11-22T03:00:00.000Z",
  });
  await put(`_requests/${id}.approval.json`, {
    formatVersion: 1,
    requestId: id,
    approvedBy: stamp(alice),
    approvedAt: "2026-11-22T02:01:00.000Z",
  });
  expect((await approvals.get(id)).state).toBe("approved");

  const forced = await refusal(approvals.consumeApproval(id, olga, { ...restore, force: true }));
  expect(forced.message).toBe(
    `restore request ${id} does not approve this restore: --force, where the approval has no --force ` +
      "(it was made before requests recorded --include and --force, so it approves neither)",
  );
  const partial = await refusal(approvals.consumeApproval(id, olga, { ...restore, include: ["docs"] }));
  expect(partial.message).toContain('--include "docs", where the approval has no --include');
  expect((await approvals.consumeApproval(id, olga, restore)).state).toBe("used");
});

test("requests expire: approving or using one after its expiry is refused", async () => {
  const pending = await approvals.requestRestore(olga, restore);
  const approved = await approvals.requestRestore(olga, restore);
  await approvals.approve(approved.id, alice);

  clock.advance(3_600_000); // exactly the TTL
  expect((await approvals.get(pending.id)).state).toBe("expired");
  const late = await refusal(approvals.approve(pending.id, alice));
  expect(late.message).toBe(
    `restore request ${pending.id} expired at 2026-11-22T03:00:00.000Z (1h after it was made)`,
  );
  const lateUse = await refusal(approvals.consumeApproval(approved.id, olga, restore));
  expect(lateUse.message).toMatch(/expired at/);
  expect((await approvals.list()).map((r) => r.state)).toEqual(["expired", "expired"]);
});

test("a request made on a host whose clock runs ahead cannot be approved: its expiry would be that far off", async () => {
  const ahead = new TestClock("2026-12-22T02:00:00.000Z"); // the requester's clock: a month fast
  const fromTheFuture = new RestoreApprovals(storage, audit, { clock: ahead.now, requestTtlMs: 3_600_000 });
  const request = await fromTheFuture.requestRestore(olga, restore);
  expect(request.expiresAt).toBe("2026-12-22T03:00:00.000Z");

  const refused = await refusal(approvals.approve(request.id, alice));
  expect(refused.code).toBe("REFUSED");
  expect(refused.message).toBe(
    `restore request ${request.id} was made at 2026-12-22T02:00:00.000Z, 30d after this host's time: the clock of ${olga.host} or of this host is wrong`,
  );
  expect((await approvals.get(request.id)).state).toBe("pending");

  // A few seconds of skew between honest hosts is not refused.
  const slightly = new TestClock("2026-11-22T02:00:30.000Z");
  const nearly = await new RestoreApprovals(storage, audit, { clock: slightly.now }).requestRestore(
    olga,
    restore,
  );
  expect((await approvals.approve(nearly.id, alice)).state).toBe("approved");
});

test("unknown and malformed request ids", async () => {
  const missing = await refusal(approvals.approve("req-0000000000", alice));
  expect(missing.code).toBe("NOT_FOUND");
  expect(missing.exitCode).toBe(1);
  expect((await refusal(approvals.get("../etc/passwd"))).code).toBe("USAGE");
});

test("break-glass: audited with its reason before it returns, and returns an event to alert on", async () => {
  const event = await approvals.breakGlass(alice, {
    ...restore,
    reason: "  orders-db lost, incident 4711  ",
  });
  expect(event).toMatchObject({
    type: "break-glass",
    target: "orders-db",
    snapshot: restore.snapshot,
    to: null,
    reason: "orders-db lost, incident 4711",
    operator: "alice",
    audit: { seq: 1 },
    summary:
      "alice (admin) bypassed restore approval to restore orders-db over its original location: orders-db lost, incident 4711",
    details: expect.objectContaining({ reason: "orders-db lost, incident 4711", "audit record": "#1" }),
  });
  const [record] = await audit.list();
  expect(record).toMatchObject({
    action: "break-glass",
    outcome: "ok",
    actor: { identity: "alice", host: "alice-laptop" },
    detail: { reason: "orders-db lost, incident 4711", to: null },
    sha256: event.audit.sha256,
  });
});

test("break-glass needs an admin and a real reason", async () => {
  const byOperator = await refusal(approvals.breakGlass(olga, { ...restore, reason: "urgent restore" }));
  expect(byOperator.code).toBe("REFUSED");
  expect(await trail()).toEqual(["break-glass:refused:olga"]);

  const noReason = await refusal(approvals.breakGlass(alice, { ...restore, reason: "  now " }));
  expect(noReason.code).toBe("USAGE");
  expect(noReason.hint).toContain("--reason");
});

test("break-glass does not return when its audit record cannot be written", async () => {
  const failing = new RestoreApprovals(storage, audit, { clock: clock.now });
  jest.spyOn(audit, "append").mockRejectedValueOnce(new Error("bucket unreachable"));
  await expect(failing.breakGlass(alice, { ...restore, reason: "orders-db lost" })).rejects.toThrow(
    "bucket unreachable",
  );
});

test("a request whose audit record cannot be written is removed again", async () => {
  jest.spyOn(audit, "append").mockRejectedValueOnce(new Error("bucket unreachable"));
  await expect(approvals.requestRestore(olga, restore)).rejects.toThrow("bucket unreachable");
  expect(await approvals.list()).toEqual([]);
});
