import {
  AUDIT_TABLE_HEADERS,
  auditJson,
  auditTableRows,
  parseSince,
  verifyExitCode,
  verifyReportLines,
} from "../../src/audit/cli";
import type { AuditVerifyResult } from "../../src/audit/log";
import { sealRecord, type AuditRecord } from "../../src/audit/record";
import { isHavenError } from "../../src/lib/errors";

const record: AuditRecord = sealRecord({
  formatVersion: 1,
  id: "0000000007-1a2b3c4d",
  seq: 7,
  at: "2026-11-22T02:00:05.123Z",
  actor: { user: "root", identity: "alice", host: "ops1" },
  action: "restore",
  target: "orders-db",
  snapshot: "20261122T020000Z-1a2b3c4d",
  outcome: "ok",
  detail: { request: "req-0123456789", to: null, stats: { files: 3 }, note: "x".repeat(100) },
  prevSha256: "a".repeat(64),
});

test("parseSince takes a duration back from now or an ISO time, and refuses anything else", () => {
  const now = new Date("2026-11-22T12:00:00Z");
  expect(parseSince("26h", "UTC", now).toISOString()).toBe("2026-11-21T10:00:00.000Z");
  expect(parseSince("7d", "UTC", now).toISOString()).toBe("2026-11-15T12:00:00.000Z");
  expect(parseSince("2026-11-01", "UTC", now).toISOString()).toBe("2026-11-01T00:00:00.000Z");
  expect(parseSince("2026-11-20T02:00:00Z", "UTC", now).toISOString()).toBe("2026-11-20T02:00:00.000Z");
  // Without an offset, in the config's timezone; an offset given wins.
  expect(parseSince("2026-11-01", "Europe/Berlin", now).toISOString()).toBe("2026-10-31T23:00:00.000Z");
  expect(parseSince("2026-11-20T02:00:00Z", "Europe/Berlin", now).toISOString()).toBe(
    "2026-11-20T02:00:00.000Z",
  );
  for (const bad of ["yesterday", "12", "2026-13-45"]) {
    const error = (() => {
      try {
        parseSince(bad, "UTC", now);
      } catch (e) {
        return e;
      }
    })();
    expect(isHavenError(error, "USAGE")).toBe(true);
  }
});

test("table rows: time to the second, identity with the OS user, scalar detail summarized", () => {
  expect(AUDIT_TABLE_HEADERS).toHaveLength(8);
  const [row] = auditTableRows([record]);
  expect(row?.slice(0, 7)).toEqual([
    "2026-11-22T02:00:05Z",
    "restore",
    "ok",
    "orders-db",
    "20261122T020000Z-1a2b3c4d",
    "alice (root)",
    "ops1",
  ]);
  expect(row?.[7]).toMatch(/^request=req-0123456789 to=null note=x+…$/);
  expect(row?.[7]).toHaveLength(60);
  const [local] = auditTableRows([{ ...record, actor: { user: "haven", host: "w1" } }]);
  expect(local?.[5]).toBe("haven");
});

test("json rows are the stored records with their destination", () => {
  expect(auditJson("primary", [record])).toEqual([{ destination: "primary", ...record }]);
});

test("verify report: one line when intact, one line per problem when broken, exit code 1 if any is broken", () => {
  const intact: AuditVerifyResult = {
    ok: true,
    records: 12,
    problems: [],
    warnings: [],
    head: { formatVersion: 1, count: 12, sha256: "b".repeat(64), key: "k", at: record.at },
  };
  const broken: AuditVerifyResult = {
    ok: false,
    records: 11,
    problems: [
      { key: "_audit/2026/11/22/x.json", problem: "removed: 1 record(s) missing before it (#5, after y)" },
    ],
    warnings: [{ key: "_audit/HEAD.json", problem: "behind: ..." }],
    head: null,
  };
  expect(verifyReportLines("primary", intact)).toEqual([
    "primary: 12 audit records, chain intact, head #12 bbbbbbbbbbbb…",
  ]);
  expect(verifyReportLines("nas", { ...intact, records: 0, head: null })).toEqual([
    "nas: the audit log is empty",
  ]);
  expect(verifyReportLines("primary", broken)).toEqual([
    "primary: audit log BROKEN: 1 problem(s) in 11 readable records",
    "  _audit/2026/11/22/x.json: removed: 1 record(s) missing before it (#5, after y)",
    "  warning: _audit/HEAD.json: behind: ...",
  ]);
  expect(verifyExitCode([intact, intact])).toBe(0);
  expect(verifyExitCode([intact, broken])).toBe(1);
  expect(verifyExitCode([])).toBe(0);
});
