/** Times operators type (`restore --at`, `audit --since`) are read in the config's timezone. */
import { parseOperatorTime } from "../../src/lib/local-time";

test("a time without an offset is read in the given timezone, whatever the machine's", () => {
  // 03:00 in Berlin (CET, UTC+1 in December) is 02:00 UTC.
  expect(parseOperatorTime("2026-12-06T03:00", "Europe/Berlin")?.toISOString()).toBe(
    "2026-12-06T02:00:00.000Z",
  );
  expect(parseOperatorTime("2026-12-06", "America/New_York")?.toISOString()).toBe("2026-12-06T05:00:00.000Z");
  // Summer time is the zone's own rule for that date.
  expect(parseOperatorTime("2026-07-01T03:00:00", "Europe/Berlin")?.toISOString()).toBe(
    "2026-07-01T01:00:00.000Z",
  );
});

test("an explicit offset or Z wins over the timezone", () => {
  expect(parseOperatorTime("2026-12-06T03:00:00Z", "Europe/Berlin")?.toISOString()).toBe(
    "2026-12-06T03:00:00.000Z",
  );
  expect(parseOperatorTime("2026-12-06T03:00:00+05:30", "UTC")?.toISOString()).toBe(
    "2026-12-05T21:30:00.000Z",
  );
});

test("anything else is not a time", () => {
  for (const bad of ["yesterday", "12", "2026-13-45", "", "06/12/2026"]) {
    expect(parseOperatorTime(bad, "UTC")).toBeNull();
  }
});
