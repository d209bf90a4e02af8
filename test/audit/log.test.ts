import { mkdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { layout } from "../../src/catalog/layout";
import { AUDIT_HEAD_KEY, isAuditRecordKey } from "../../src/audit/keys";
import { HavenError } from "../../src/lib/errors";
import { AuditLog } from "../../src/audit/log";
import { verifyAuditLogs } from "../../src/audit/cli";
import { recordSha256, serializeRecord, type AuditRecord } from "../../src/audit/record";
import { fsAudit, type FsAudit } from "./helpers";

const actor = { user: "alice", identity: "alice", host: "ops1" };

let env: FsAudit;
beforeEach(async () => {
  env = await fsAudit();
});
afterEach(async () => {
  await env.cleanup();
});

const keyOf = (record: AuditRecord) => layout.audit(new Date(record.at), record.id);

/** Appends `n` records, one minute apart, alternating a few actions. */
async function appendMany(n: number): Promise<AuditRecord[]> {
  const actions = ["backup", "verify", "restore", "prune-delete"] as const;
  const out: AuditRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await env.log.append({
        action: actions[i % actions.length] as string,
        outcome: "ok",
        actor,
        target: "orders-db",
        snapshot: `20261122T0${i % 10}0000Z-0000000${i % 10}`,
        detail: { index: i },
      }),
    );
    env.clock.advance(60_000);
  }
  return out;
}

test("a chain of 12 records lists in order, links each record to the previous one and verifies", async () => {
  const written = await appendMany(12);

  const listed = await env.log.list();
  expect(listed.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  expect(listed).toEqual(written);
  expect(listed[0]?.prevSha256).toBeNull();
  for (let i = 1; i < listed.length; i++) expect(listed[i]?.prevSha256).toBe(listed[i - 1]?.sha256);
  for (const record of listed) expect(recordSha256(record)).toBe(record.sha256);

  const result = await env.log.verify();
  expect(result).toEqual({
    ok: true,
    records: 12,
    problems: [],
    warnings: [],
    head: expect.objectContaining({ count: 12, sha256: written[11]?.sha256, key: keyOf(written[11]!) }),
  });
});

test("records are stored under layout.audit(at, id) in their canonical form", async () => {
  const [record] = await appendMany(1);
  const raw = await readFile(env.path(keyOf(record!)), "utf8");
  expect(raw).toBe(serializeRecord(record!));
  expect(keyOf(record!)).toMatch(/^_audit\/2026\/11\/22\/20261122T020000Z-0000000001-[0-9a-f]{8}\.json$/);
});

test("records written in the same second, or by a writer whose clock is behind, keep chain order", async () => {
  for (let i = 0; i < 12; i++)
    await env.log.append({ action: "verify", outcome: "ok", actor, detail: { i } });
  env.clock.advance(-3_600_000); // a second writer an hour behind
  const late = await env.log.append({ action: "backup", outcome: "ok", actor });
  expect(late.at).toBe("2026-11-22T02:00:00.000Z"); // never before the head

  const listed = await env.log.list();
  expect(listed.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  expect((await env.log.verify()).problems).toEqual([]);
});

test("deleting a middle record is reported on the record after the gap", async () => {
  const written = await appendMany(8);
  await unlink(env.path(keyOf(written[4]!)));

  const result = await env.log.verify();
  expect(result.ok).toBe(false);
  expect(result.records).toBe(7);
  expect(result.problems).toEqual([
    {
      key: keyOf(written[5]!),
      problem: expect.stringMatching(/^removed: 1 record\(s\) missing before it \(#5, after .*0000000004-/),
    },
  ]);
});

test("altering one byte of a record is reported on that record", async () => {
  const written = await appendMany(6);
  const path = env.path(keyOf(written[2]!));
  const raw = await readFile(path, "utf8");
  await writeFile(path, raw.replace('"target":"orders-db"', '"target":"orders-dc"'));

  const result = await env.log.verify();
  expect(result.ok).toBe(false);
  expect(result.problems).toEqual([
    {
      key: keyOf(written[2]!),
      problem: expect.stringMatching(/^altered: its content hashes to [0-9a-f]{12}… but it records/),
    },
  ]);
});

test("an altered record whose sha256 was recomputed is still named, by the next record's link", async () => {
  const written = await appendMany(6);
  const victim = written[2]!;
  const forged = { ...victim, outcome: "failed" as const };
  forged.sha256 = recordSha256(forged);
  await writeFile(env.path(keyOf(victim)), serializeRecord(forged));

  const result = await env.log.verify();
  expect(result.problems).toEqual([
    {
      key: keyOf(victim),
      problem: expect.stringMatching(
        /^altered: it now hashes to .* but the next record \(.*0000000004-.*\) chained to/,
      ),
    },
  ]);
});

test("a byte flip that breaks the JSON makes the record unreadable, and only that is reported", async () => {
  const written = await appendMany(5);
  const path = env.path(keyOf(written[1]!));
  const bytes = await readFile(path);
  bytes[0] = 0x5b; // "{" → "["
  await writeFile(path, bytes);

  const result = await env.log.verify();
  expect(result.problems).toEqual([
    { key: keyOf(written[1]!), problem: "unreadable: not valid JSON (altered or truncated)" },
  ]);
  // Listing still shows the rest.
  expect((await env.log.list()).map((r) => r.seq)).toEqual([1, 3, 4, 5]);
});

test("reformatting a record without changing its content is reported", async () => {
  const written = await appendMany(3);
  const path = env.path(keyOf(written[1]!));
  await writeFile(path, JSON.stringify(JSON.parse(await readFile(path, "utf8")), null, 2));

  expect((await env.log.verify()).problems).toEqual([
    {
      key: keyOf(written[1]!),
      problem: "altered: its bytes are not the form Haven writes (edited by hand?)",
    },
  ]);
});

test("deleting the newest record is reported against the head pointer", async () => {
  const written = await appendMany(5);
  await unlink(env.path(keyOf(written[4]!)));

  const result = await env.log.verify();
  expect(result.ok).toBe(false);
  expect(result.problems).toEqual([
    {
      key: AUDIT_HEAD_KEY,
      problem: expect.stringMatching(
        /^removed: the newest 1 record\(s\) are missing: the head pointer names #5 .* the chain ends at #4/,
      ),
    },
  ]);
});

test("deleting the oldest record is reported on the new first record", async () => {
  const written = await appendMany(4);
  await unlink(env.path(keyOf(written[0]!)));

  expect((await env.log.verify()).problems).toEqual([
    {
      key: keyOf(written[1]!),
      problem: "removed: the chain starts at record #2; the 1 record(s) before it are missing",
    },
  ]);
});

test("a record moved later in the log is reported as moved and reordered", async () => {
  const written = await appendMany(5);
  const moved = written[1]!;
  const newKey = keyOf(moved).replace("20261122T020100Z", "20261122T021000Z");
  await mkdir(dirname(env.path(newKey)), { recursive: true });
  await rename(env.path(keyOf(moved)), env.path(newKey));

  const result = await env.log.verify();
  expect(result.ok).toBe(false);
  const lines = result.problems.map((p) => `${p.key}: ${p.problem}`);
  expect(lines).toContainEqual(
    expect.stringMatching(/20261122T021000Z-0000000002-.*: moved: its time and id belong under/),
  );
  expect(lines).toContainEqual(
    expect.stringMatching(
      /0000000003-.*: reordered: it chains to .*0000000002-.* \(#2\) but is stored after .*0000000001-/,
    ),
  );
});

test("a head pointer left behind by a crash is a warning, and the next append repairs it", async () => {
  await appendMany(3);
  const headBefore = await readFile(env.path(AUDIT_HEAD_KEY));
  const fourth = (await appendMany(1))[0]!;
  await writeFile(env.path(AUDIT_HEAD_KEY), headBefore); // as if the writer died before moving it

  const behind = await env.log.verify();
  expect(behind.ok).toBe(true);
  expect(behind.warnings).toEqual([
    {
      key: AUDIT_HEAD_KEY,
      problem: expect.stringMatching(/^behind: the head pointer names #3, the chain ends at #4/),
    },
  ]);

  // A fresh process (no cached head) appends: it finds #4 by listing, not the stale pointer.
  const other = new AuditLog(env.storage, { clock: env.clock.now });
  const fifth = await other.append({ action: "backup", outcome: "ok", actor });
  expect(fifth.seq).toBe(5);
  expect(fifth.prevSha256).toBe(fourth.sha256);
  expect(await env.log.verify()).toMatchObject({ ok: true, records: 5, warnings: [] });
});

test("without a head pointer, an append finds the newest record by listing the log", async () => {
  const written = await appendMany(3);
  await rm(env.path(AUDIT_HEAD_KEY));
  expect((await env.log.verify()).problems).toEqual([
    { key: AUDIT_HEAD_KEY, problem: expect.stringMatching(/^missing: without the head pointer/) },
  ]);

  const fresh = new AuditLog(env.storage, { clock: env.clock.now });
  const next = await fresh.append({
    action: "config-reload",
    outcome: "ok",
    actor,
    detail: { sha256: "abc" },
  });
  expect(next.prevSha256).toBe(written[2]?.sha256);
  expect(await env.log.verify()).toMatchObject({ ok: true, records: 4 });
});

test("appending after the newest record was removed chains to the pointer, so the removal stays visible", async () => {
  const written = await appendMany(3);
  await unlink(env.path(keyOf(written[2]!)));
  const next = await env.log.append({ action: "backup", outcome: "ok", actor });
  expect(next.seq).toBe(4);
  expect(next.prevSha256).toBe(written[2]?.sha256);

  const result = await env.log.verify();
  expect(result.problems).toEqual([
    { key: keyOf(next), problem: expect.stringMatching(/^removed: 1 record\(s\) missing before it \(#3,/) },
  ]);
});

test("list --since skips older records; the empty log lists nothing and verifies", async () => {
  expect(await env.log.list()).toEqual([]);
  expect(await env.log.verify()).toEqual({ ok: true, records: 0, problems: [], warnings: [], head: null });

  await appendMany(5); // 02:00 .. 02:04
  const since = await env.log.list({ since: new Date("2026-11-22T02:02:00.000Z") });
  expect(since.map((r) => r.seq)).toEqual([3, 4, 5]);
  const window = await env.log.list({
    since: new Date("2026-11-22T02:01:00.000Z"),
    until: new Date("2026-11-22T02:03:00.000Z"),
  });
  expect(window.map((r) => r.seq)).toEqual([2, 3]);
});

test("records of several days land in their day folders and verify as one chain", async () => {
  env.clock.set("2026-12-31T23:59:30.000Z");
  await env.log.append({ action: "backup", outcome: "ok", actor });
  env.clock.advance(60_000);
  const second = await env.log.append({
    action: "backup",
    outcome: "failed",
    actor,
    detail: { error: "dump failed" },
  });
  expect(keyOf(second)).toMatch(/^_audit\/2027\/01\/01\//);
  expect(await env.log.verify()).toMatchObject({ ok: true, records: 2 });
});

test("haven audit verify over several logs: the lines to print, exit code 1 when one is broken", async () => {
  const written = await appendMany(4);
  const other = await fsAudit();
  try {
    await other.log.append({ action: "backup", outcome: "ok", actor });
    const intact = await verifyAuditLogs([
      { destination: "nas", log: env.log },
      { destination: "offsite", log: other.log },
    ]);
    expect(intact.exitCode).toBe(0);
    expect(intact.lines).toEqual([
      expect.stringMatching(/^nas: 4 audit records, chain intact, head #4 /),
      expect.stringMatching(/^offsite: 1 audit records, chain intact, head #1 /),
    ]);

    await unlink(env.path(keyOf(written[1]!)));
    const broken = await verifyAuditLogs([
      { destination: "nas", log: env.log },
      { destination: "offsite", log: other.log },
    ]);
    expect(broken.exitCode).toBe(1);
    expect(broken.lines).toEqual([
      "nas: audit log BROKEN: 1 problem(s) in 3 readable records",
      expect.stringMatching(
        new RegExp(`^  ${keyOf(written[2]!)}: removed: 1 record\\(s\\) missing before it \\(#2,`),
      ),
      expect.stringMatching(/^offsite: 1 audit records, chain intact/),
    ]);
  } finally {
    await other.cleanup();
  }
});

test("a record stored by a put reported as failed (ALREADY_EXISTS on the client's own retry) is kept once, not forked", async () => {
  // What an S3 client's retry of a PutObject whose answer was lost sees: the first put landed, and
  // the retry's If-None-Match is refused.
  let lostAnswers = 1;
  const storage = new Proxy(env.storage, {
    get(target, property, receiver) {
      if (property !== "put") {
        const value = Reflect.get(target, property, receiver) as unknown;
        // The backend's private fields need the real object as `this`.
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return async (...args: Parameters<typeof target.put>) => {
        const stored = await target.put(...args);
        if (lostAnswers > 0 && isAuditRecordKey(args[0])) {
          lostAnswers--;
          throw new HavenError("ALREADY_EXISTS", `${args[0]} already exists`);
        }
        return stored;
      };
    },
  });
  const log = new AuditLog(storage, { clock: env.clock.now });
  await log.append({ action: "backup", outcome: "ok", actor, target: "orders-db" });
  await log.append({ action: "restore", outcome: "ok", actor, target: "orders-db" });

  expect(lostAnswers).toBe(0);
  expect((await log.list()).map((record) => record.seq)).toEqual([1, 2]);
  expect(await log.verify()).toMatchObject({ ok: true, records: 2, problems: [] });
});
