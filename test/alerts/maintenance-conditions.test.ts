/** What prune, copy and report runs raise and clear (pure logic; the end-to-end path is in e2e/monitoring). */
import { copyOutcome, deliveryEndsReportFailure, pruneOutcome, reportFailed } from "../../src/alerts";
import { eventSubject } from "../../src/alerts/events";
import type { CopyReport } from "../../src/copy";
import type { PruneReport } from "../../src/prune";

const H = 3_600_000;
const now = new Date("2026-11-22T12:00:00Z");

function copyReport(failed: CopyReport["failed"]): CopyReport {
  return { target: "orders-db", from: "primary", copied: [], failed, listed: [] };
}

test("a copy failing for a snapshot older than the RPO raises copy-behind, dated at the breach", () => {
  const changes = copyOutcome(
    copyReport([
      {
        to: "offsite",
        snapshotId: "20261121T020000Z-0123abcd",
        code: "TRANSIENT",
        message: "connect ECONNREFUSED",
      },
      {
        to: "offsite",
        snapshotId: "20261122T020000Z-0123abce",
        code: "TRANSIENT",
        message: "connect ECONNREFUSED",
      },
    ]),
    26 * H,
    now,
  );
  expect(changes.clear).toEqual([]);
  expect(changes.raise).toHaveLength(1);
  expect(changes.raise[0]).toMatchObject({
    key: "copy-behind:orders-db",
    event: {
      type: "copy-behind",
      target: "orders-db",
      destination: "offsite",
      since: "2026-11-22T04:00:00.000Z",
      summary: expect.stringContaining("20261121T020000Z-0123abcd"),
    },
  });
});

test("a copy failing on a young snapshot while an old one is still owed raises copy-behind for the old one", () => {
  // Copies go newest first: a destination whose writes fail (disk full) fails on today's snapshot
  // every hour while the backlog behind it ages.
  const changes = copyOutcome(
    copyReport([
      {
        to: "offsite",
        snapshotId: "20261122T020000Z-0123abce",
        oldestPending: "20261112T020000Z-0123abcd",
        code: "TRANSIENT",
        message: "ENOSPC: no space left on device",
      },
    ]),
    26 * H,
    now,
  );
  expect(changes.raise).toHaveLength(1);
  expect(changes.raise[0]).toMatchObject({
    event: {
      type: "copy-behind",
      since: "2026-11-13T04:00:00.000Z",
      summary: expect.stringContaining(
        "snapshot 20261112T020000Z-0123abcd of orders-db is still not copied",
      ) as string,
    },
  });
});

test("a young failure waits for the retry (no alert); a clean run clears copy-behind", () => {
  const young = copyOutcome(
    copyReport([
      { to: "offsite", snapshotId: "20261122T020000Z-0123abce", code: "TRANSIENT", message: "down" },
    ]),
    26 * H,
    now,
  );
  expect(young).toEqual({ raise: [], clear: [] });
  expect(copyOutcome(copyReport([]), 26 * H, now)).toEqual({ raise: [], clear: ["copy-behind:orders-db"] });
});

test("a destination that cannot be listed raises storage-unreachable for that target's copies at once; one listed clears it", () => {
  const report: CopyReport = {
    ...copyReport([
      { to: "offsite", code: "TRANSIENT", message: "connect ECONNREFUSED 10.0.0.9:443" }, // no snapshot: the listing
    ]),
    listed: ["vault"],
  };
  const changes = copyOutcome(report, 26 * H, now);
  expect(changes.raise).toEqual([
    expect.objectContaining({
      key: "storage-unreachable:offsite/orders-db",
      event: expect.objectContaining({
        type: "storage-unreachable",
        destination: "offsite",
        target: "orders-db",
        since: now.toISOString(),
        summary: expect.stringContaining("ECONNREFUSED") as string,
        details: { code: "TRANSIENT" },
      }) as unknown,
    }),
  ]);
  // Its messages name the destination, the thing to check, not the target the copy was for.
  expect(eventSubject(changes.raise[0]!.event)).toBe("offsite");
  // The copy state there is unknown: copy-behind is neither raised nor cleared; vault answered.
  expect(changes.clear).toEqual(["storage-unreachable:vault/orders-db"]);
  // A cancelled run (shutdown) says nothing of the destination.
  const cancelled = copyReport([{ to: "offsite", code: "CANCELLED", message: "aborted" }]);
  expect(copyOutcome(cancelled, 26 * H, now).raise).toEqual([]);
});

function pruneReport(results: PruneReport["results"], dryRun = false): PruneReport {
  return { dryRun, now, results, orphans: [], orphanScanErrors: [] };
}

test("a refused prune raises prune-refused; a prune that ran clears it; a dry run changes nothing", () => {
  const refused = pruneReport([
    {
      target: "orders-db",
      destination: "primary",
      removed: [],
      failed: [],
      error: { code: "REFUSED", message: "would delete 9 of 10 snapshots", hint: "check the clock" },
    },
    { target: "files", destination: "primary", removed: ["x"], failed: [] },
  ]);
  const changes = pruneOutcome(refused);
  expect(changes.raise.map((c) => c.key)).toEqual(["prune-refused:orders-db"]);
  expect(changes.raise[0]!.event.summary).toContain("would delete 9 of 10 snapshots");
  expect(changes.clear).toEqual(["prune-refused:files"]);
  expect(pruneOutcome({ ...refused, dryRun: true })).toEqual({ raise: [], clear: [] });
});

test("a report error raises report-failed naming its month; a delivery of that month or a later one ends it", () => {
  const failed = reportFailed(new Error("SMTP 535"), "2026-10", now);
  expect(failed).toMatchObject({
    key: "report-failed:-",
    event: {
      type: "report-failed",
      summary: expect.stringContaining("SMTP 535"),
      details: { month: "2026-10" },
    },
  });
  expect(deliveryEndsReportFailure(failed.event, "2026-10")).toBe(true);
  expect(deliveryEndsReportFailure(failed.event, "2026-11")).toBe(true);
  // Re-sending September does not bring October to its readers.
  expect(deliveryEndsReportFailure(failed.event, "2026-09")).toBe(false);
  // An incident raised before months were recorded ends with any delivery.
  expect(deliveryEndsReportFailure({ ...failed.event, details: {} }, "2026-09")).toBe(true);
});
