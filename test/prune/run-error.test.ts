import { pruneRunError, type PruneReport } from "../../src/prune";

const result = (target: string, error?: { code: "LOCKED" | "TRANSIENT"; message: string }) => ({
  target,
  destination: "primary",
  removed: [],
  failed: [],
  ...(error ? { error } : {}),
});

test("a target skipped for its lock does not hide another target's failure in the run's error", () => {
  const report: PruneReport = {
    dryRun: false,
    now: new Date("2026-12-06T00:00:00Z"),
    results: [
      result("a", { code: "LOCKED", message: "a backup of a holds its lock" }),
      result("b", { code: "TRANSIENT", message: "the destination did not answer" }),
      result("c"),
    ],
    orphans: [],
    orphanScanErrors: [],
  };
  expect(pruneRunError(report)).toMatchObject({
    code: "TRANSIENT",
    message: "prune of b on primary: the destination did not answer (and 1 more problem above)",
  });
  expect(pruneRunError({ ...report, results: [report.results[0]!, report.results[2]!] })).toMatchObject({
    code: "LOCKED",
  });
});
