import { restoreShortfall } from "../../src/cli/restore-outcome";

const fromArchive = { path: "../etc/passwd", reason: "'..' in path", cause: "archive" as const };
const fromDestination = {
  path: "report.txt",
  reason: "a directory is in the way",
  cause: "destination" as const,
};

test("a complete restore has no shortfall", () => {
  expect(restoreShortfall([], [])).toBeUndefined();
});

test("the hint names the cause of the refusals: the snapshot, the destination, or each with its count", () => {
  const archiveOnly = restoreShortfall([fromArchive, fromArchive], []);
  expect(archiveOnly).toMatchObject({
    code: "PARTIAL",
    exitCode: 3,
    message: "2 archive entries were rejected and not restored",
  });
  expect(archiveOnly?.hint).toMatch(
    /^2 entries refused for what the snapshot holds .*inspect it before trusting it/,
  );
  expect(archiveOnly?.hint).not.toContain("destination (");

  const destinationOnly = restoreShortfall([fromDestination], []);
  expect(destinationOnly?.hint).toMatch(/^1 entry refused for what is at the destination .*--include/);
  expect(destinationOnly?.hint).not.toMatch(/unsafe|inspect/);

  const both = restoreShortfall([fromDestination, fromArchive, fromDestination], []);
  expect(both?.hint).toMatch(
    /^1 entry refused for what the snapshot holds .*; 2 entries refused for what is at the destination/,
  );

  // Another adapter's refusal without a cause keeps the cautious hint.
  expect(restoreShortfall([{ path: "x", reason: "?" }], [])?.hint).toMatch(/what the snapshot holds/);
});

test("warnings alone end the restore as partial too", () => {
  expect(restoreShortfall([], ["could not set the owner of 3 restored entries"])).toMatchObject({
    code: "PARTIAL",
    exitCode: 3,
    message: "the restore finished with 1 warning",
  });
});
