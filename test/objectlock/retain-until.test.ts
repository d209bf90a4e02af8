/** The Object Lock date Haven puts on a snapshot's objects (pure functions, fixed instants). */
import { objectLockOf, retainUntilFor, retentionEnd } from "../../src/copy";
import type { NamedDestination } from "../../src/config/types";
import { testConfig } from "../prune/config";

function lockedDestination(objectLock: string): NamedDestination {
  const config = testConfig({
    destinations: {
      vault: {
        type: "s3",
        endpoint: "http://127.0.0.1:1",
        bucket: "vault",
        prefix: "",
        extra: [`objectLock: ${objectLock}`],
      },
    },
    targets: {},
  });
  return config.destinations.vault!;
}

const taken = new Date("2026-11-20T02:00:00Z"); // a Friday, ISO week 2026-W47 (Monday Nov 16)

describe("retentionEnd", () => {
  test("is the latest end of the periods the policy keeps a snapshot for", () => {
    expect(retentionEnd(taken, { daily: 7 }, "UTC")).toEqual(new Date("2026-11-27T00:00:00Z"));
    expect(retentionEnd(taken, { weekly: 4 }, "UTC")).toEqual(new Date("2026-12-14T00:00:00Z"));
    expect(retentionEnd(taken, { monthly: 12 }, "UTC")).toEqual(new Date("2027-11-01T00:00:00Z"));
    expect(retentionEnd(taken, { yearly: 2 }, "UTC")).toEqual(new Date("2028-01-01T00:00:00Z"));
    expect(retentionEnd(taken, { daily: 7, weekly: 4, monthly: 12 }, "UTC")).toEqual(
      new Date("2027-11-01T00:00:00Z"),
    );
    expect(retentionEnd(taken, { within: 10 * 86_400_000 }, "UTC")).toEqual(new Date("2026-11-30T02:00:00Z"));
  });

  test("counts local calendar periods across a DST change and month ends", () => {
    // Europe/Paris moves to summer time on 2026-03-29: seven local days are 167 hours here.
    expect(retentionEnd(new Date("2026-03-25T12:00:00Z"), { daily: 7 }, "Europe/Paris")).toEqual(
      new Date("2026-03-31T22:00:00Z"),
    );
    // 23:30 UTC on Jan 31 is already February 1 in Paris.
    expect(retentionEnd(new Date("2026-01-31T23:30:00Z"), { monthly: 1 }, "Europe/Paris")).toEqual(
      new Date("2026-02-28T23:00:00Z"),
    );
  });

  test("is null for a policy without a time-bound rule", () => {
    expect(retentionEnd(taken, { last: 5 }, "UTC")).toBeNull();
    expect(retentionEnd(taken, {}, "UTC")).toBeNull();
  });
});

describe("retainUntilFor", () => {
  const now = new Date("2026-11-20T03:00:00Z");

  test("days: that many days after the write", () => {
    const destination = lockedDestination("{ mode: compliance, days: 30 }");
    expect(
      retainUntilFor(destination, { snapshotTime: taken, now, policy: { daily: 7 }, timezone: "UTC" }),
    ).toEqual(new Date("2026-12-20T03:00:00Z"));
  });

  test("untilRetention: the end of the retention periods, at least one day after the write", () => {
    const destination = lockedDestination("{ mode: governance, untilRetention: true }");
    const input = { snapshotTime: taken, now, timezone: "UTC" };
    expect(retainUntilFor(destination, { ...input, policy: { daily: 7, monthly: 3 } })).toEqual(
      new Date("2027-02-01T00:00:00Z"),
    );
    // A late copy of a snapshot whose periods are over still gets a day.
    const late = new Date("2027-06-01T00:00:00Z");
    expect(retainUntilFor(destination, { ...input, now: late, policy: { daily: 7 } })).toEqual(
      new Date("2027-06-02T00:00:00Z"),
    );
  });

  test("untilRetention with only `last` is a config error naming the keys", () => {
    const destination = lockedDestination("{ mode: governance, untilRetention: true }");
    expect(() =>
      retainUntilFor(destination, { snapshotTime: taken, now, policy: { last: 3 }, timezone: "UTC" }),
    ).toThrow(
      expect.objectContaining({
        code: "CONFIG",
        message: expect.stringContaining("destinations.vault.objectLock.untilRetention") as unknown,
      }) as Error,
    );
  });

  test("exactly one of days and untilRetention", () => {
    for (const lock of ["{ mode: compliance }", "{ mode: compliance, days: 3, untilRetention: true }"]) {
      expect(() => objectLockOf(lockedDestination(lock))).toThrow(
        expect.objectContaining({ code: "CONFIG", exitCode: 2 }) as Error,
      );
    }
    expect(objectLockOf(lockedDestination("{ mode: compliance, days: 3 }"))).toEqual({
      mode: "compliance",
      days: 3,
    });
  });

  test("no lock where none is asked for", () => {
    const config = testConfig({
      destinations: {
        plain: { type: "s3", endpoint: "http://127.0.0.1:1", bucket: "plain-bucket", prefix: "" },
        nas: { type: "filesystem", path: "/tmp/unused" },
      },
      targets: {},
    });
    for (const destination of Object.values(config.destinations)) {
      expect(
        retainUntilFor(destination, { snapshotTime: taken, now, policy: { daily: 7 }, timezone: "UTC" }),
      ).toBeUndefined();
    }
  });
});
