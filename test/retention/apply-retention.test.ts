/**
 * The policy's edge cases, each with its expected result written out by hand: DST days, month ends and
 * leap days, ISO week 53 across a year boundary, `last`, `within`, future snapshots, guard rails, empty
 * and all-partial input.
 */
import { applyRetention, REASON } from "../../src/retention";
import { isHavenError } from "../../src/lib/errors";
import { DAY_MS, isoOf, kept, removed, snap } from "./fixtures";

const now = new Date("2026-11-20T12:00:00Z");

describe("DST days land in the right local day", () => {
  // Europe/Paris springs forward on Sun 2026-03-29 at 01:00Z (02:00 CET → 03:00 CEST).
  const paris = [
    snap("2026-03-28T12:00:00Z"), // Sat 13:00 CET → 03-28
    snap("2026-03-28T23:30:00Z"), // Sun 00:30 CET → 03-29 locally, still 03-28 in UTC
    snap("2026-03-29T21:30:00Z"), // Sun 23:30 CEST → 03-29
  ];

  test("Europe/Paris spring forward: 00:30 local belongs to the DST day", () => {
    const decision = applyRetention(paris, { daily: 2 }, now, { timezone: "Europe/Paris" });
    expect(kept(decision)).toEqual([
      ["2026-03-29T21:30:00Z", ["daily 2026-03-29", "newest committed"]],
      ["2026-03-28T12:00:00Z", ["daily 2026-03-28"]],
    ]);
    expect(removed(decision)).toEqual(["2026-03-28T23:30:00Z"]);
  });

  test("the same snapshots in UTC fall on other days (the timezone is really used)", () => {
    const decision = applyRetention(paris, { daily: 2 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-03-29T21:30:00Z", ["daily 2026-03-29", "newest committed"]],
      ["2026-03-28T23:30:00Z", ["daily 2026-03-28"]],
    ]);
    expect(removed(decision)).toEqual(["2026-03-28T12:00:00Z"]);
  });

  test("Europe/Paris fall back: the repeated 02:30 hour and 00:30 local all belong to Sun 10-25", () => {
    // Clocks go back on Sun 2026-10-25 at 01:00Z (03:00 CEST → 02:00 CET).
    const snapshots = [
      snap("2026-10-24T21:30:00Z"), // Sat 23:30 CEST → 10-24
      snap("2026-10-24T22:30:00Z"), // Sun 00:30 CEST → 10-25
      snap("2026-10-25T00:30:00Z"), // Sun 02:30 CEST → 10-25
      snap("2026-10-25T01:30:00Z"), // Sun 02:30 CET (the second 02:30) → 10-25
      snap("2026-10-25T22:30:00Z"), // Sun 23:30 CET → 10-25
    ];
    const decision = applyRetention(snapshots, { daily: 3 }, now, { timezone: "Europe/Paris" });
    expect(kept(decision)).toEqual([
      ["2026-10-25T22:30:00Z", ["daily 2026-10-25", "newest committed"]],
      ["2026-10-24T21:30:00Z", ["daily 2026-10-24"]],
    ]);
    expect(removed(decision)).toEqual([
      "2026-10-25T01:30:00Z",
      "2026-10-25T00:30:00Z",
      "2026-10-24T22:30:00Z",
    ]);
  });

  test("America/New_York spring forward: 23:30 EST the evening before stays on 03-07", () => {
    // New York springs forward on Sun 2026-03-08 at 07:00Z (02:00 EST → 03:00 EDT).
    const snapshots = [
      snap("2026-03-07T17:00:00Z"), // Sat 12:00 EST → 03-07
      snap("2026-03-08T04:30:00Z"), // Sat 23:30 EST → 03-07 locally, 03-08 in UTC
      snap("2026-03-08T05:30:00Z"), // Sun 00:30 EST → 03-08
      snap("2026-03-08T12:00:00Z"), // Sun 08:00 EDT → 03-08
    ];
    const decision = applyRetention(snapshots, { daily: 2 }, now, { timezone: "America/New_York" });
    expect(kept(decision)).toEqual([
      ["2026-03-08T12:00:00Z", ["daily 2026-03-08", "newest committed"]],
      ["2026-03-08T04:30:00Z", ["daily 2026-03-07"]],
    ]);
    expect(removed(decision)).toEqual(["2026-03-08T05:30:00Z", "2026-03-07T17:00:00Z"]);
  });

  test("America/New_York fall back: Sunday 23:30 EST is still in the week that ends that Sunday", () => {
    // Clocks go back on Sun 2026-11-01 at 06:00Z. Sunday ends ISO week 2026-W44 locally; in UTC the
    // 23:30 EST snapshot is already Monday of W45.
    const snapshots = [
      snap("2026-10-25T16:00:00Z"), // Sun 12:00 EDT → W43
      snap("2026-10-31T16:00:00Z"), // Sat 12:00 EDT → W44
      snap("2026-11-01T04:30:00Z"), // Sun 00:30 EDT → W44
      snap("2026-11-02T04:30:00Z"), // Sun 23:30 EST → W44 locally, Mon W45 in UTC
    ];
    const local = applyRetention(snapshots, { weekly: 2 }, now, { timezone: "America/New_York" });
    expect(kept(local)).toEqual([
      ["2026-11-02T04:30:00Z", ["weekly 2026-W44", "newest committed"]],
      ["2026-10-25T16:00:00Z", ["weekly 2026-W43"]],
    ]);
    const utc = applyRetention(snapshots, { weekly: 2 }, now, { timezone: "UTC" });
    expect(kept(utc)).toEqual([
      ["2026-11-02T04:30:00Z", ["weekly 2026-W45", "newest committed"]],
      ["2026-11-01T04:30:00Z", ["weekly 2026-W44"]],
    ]);
  });
});

describe("month ends, leap days and year boundaries", () => {
  test("a leap day is its own day and the last of February; 00:30 on March 1st in Paris is March", () => {
    const snapshots = [
      snap("2028-02-28T12:00:00Z"), // 02-28
      snap("2028-02-29T22:30:00Z"), // 23:30 CET 02-29
      snap("2028-02-29T23:30:00Z"), // 00:30 CET 03-01
      snap("2028-03-01T12:00:00Z"), // 13:00 CET 03-01
    ];
    const at = new Date("2028-03-02T00:00:00Z");
    const decision = applyRetention(snapshots, { daily: 3, monthly: 2 }, at, { timezone: "Europe/Paris" });
    expect(kept(decision)).toEqual([
      ["2028-03-01T12:00:00Z", ["daily 2028-03-01", "monthly 2028-03", "newest committed"]],
      ["2028-02-29T22:30:00Z", ["daily 2028-02-29", "monthly 2028-02"]],
      ["2028-02-28T12:00:00Z", ["daily 2028-02-28"]],
    ]);
    expect(removed(decision)).toEqual(["2028-02-29T23:30:00Z"]);
  });

  test("the 31st in the evening in New York is still January, and Feb 28 ends a common year's February", () => {
    const snapshots = [
      snap("2026-01-31T12:00:00Z"), // 07:00 EST 01-31
      snap("2026-02-01T04:30:00Z"), // 23:30 EST 01-31
      snap("2026-02-01T15:00:00Z"), // 10:00 EST 02-01
      snap("2026-02-28T23:00:00Z"), // 18:00 EST 02-28
      snap("2026-03-01T04:59:00Z"), // 23:59 EST 02-28
      snap("2026-03-01T05:00:00Z"), // 00:00 EST 03-01
    ];
    const decision = applyRetention(snapshots, { monthly: 3 }, now, { timezone: "America/New_York" });
    expect(kept(decision)).toEqual([
      ["2026-03-01T05:00:00Z", ["monthly 2026-03", "newest committed"]],
      ["2026-03-01T04:59:00Z", ["monthly 2026-02"]],
      ["2026-02-01T04:30:00Z", ["monthly 2026-01"]],
    ]);
  });

  test("ISO week 53 spans the new year; weekly and yearly periods differ across it", () => {
    // Daily at 12:00Z from Sat 2026-12-26 to Tue 2027-01-05. Thu 2026-12-31 and Fri 2027-01-01 are both in
    // 2026-W53 (Mon 12-28 .. Sun 01-03); 2027-W01 starts Mon 01-04.
    const snapshots = [];
    for (let t = Date.parse("2026-12-26T12:00:00Z"); t <= Date.parse("2027-01-05T12:00:00Z"); t += DAY_MS) {
      snapshots.push(snap(isoOf(new Date(t))));
    }
    const at = new Date("2027-01-06T00:00:00Z");
    const decision = applyRetention(snapshots, { weekly: 3, yearly: 2 }, at, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2027-01-05T12:00:00Z", ["weekly 2027-W01", "yearly 2027", "newest committed"]],
      ["2027-01-03T12:00:00Z", ["weekly 2026-W53"]],
      ["2026-12-31T12:00:00Z", ["yearly 2026"]],
      ["2026-12-27T12:00:00Z", ["weekly 2026-W52"]],
    ]);
    expect(decision.remove).toHaveLength(11 - 4);
  });

  test("the week of 2025-12-29 is 2026-W01 while its days stay in year 2025", () => {
    const snapshots = [
      snap("2025-12-28T12:00:00Z"),
      snap("2025-12-30T12:00:00Z"),
      snap("2026-01-02T12:00:00Z"),
    ];
    const at = new Date("2026-01-03T00:00:00Z");
    const decision = applyRetention(snapshots, { weekly: 2, yearly: 2 }, at, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-01-02T12:00:00Z", ["weekly 2026-W01", "yearly 2026", "newest committed"]],
      ["2025-12-30T12:00:00Z", ["yearly 2025"]],
      ["2025-12-28T12:00:00Z", ["weekly 2025-W52"]],
    ]);
  });
});

describe("last and within", () => {
  test("last N keeps the newest N snapshots", () => {
    const snapshots = [1, 2, 3, 4, 5].map((h) => snap(`2026-11-20T0${h}:00:00Z`));
    const decision = applyRetention(snapshots, { last: 3 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T05:00:00Z", ["last 3", "newest committed"]],
      ["2026-11-20T04:00:00Z", ["last 3"]],
      ["2026-11-20T03:00:00Z", ["last 3"]],
    ]);
    expect(removed(decision)).toEqual(["2026-11-20T02:00:00Z", "2026-11-20T01:00:00Z"]);
  });

  test("last and daily add up and a snapshot lists every rule that keeps it", () => {
    const snapshots = [
      snap("2026-11-18T08:00:00Z"),
      snap("2026-11-18T20:00:00Z"),
      snap("2026-11-19T08:00:00Z"),
      snap("2026-11-19T20:00:00Z"),
    ];
    const decision = applyRetention(snapshots, { last: 2, daily: 2 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-19T20:00:00Z", ["daily 2026-11-19", "last 2", "newest committed"]],
      ["2026-11-19T08:00:00Z", ["last 2"]],
      ["2026-11-18T20:00:00Z", ["daily 2026-11-18"]],
    ]);
    expect(removed(decision)).toEqual(["2026-11-18T08:00:00Z"]);
  });

  test("within counts back from the newest snapshot, not from now, and excludes the exact boundary", () => {
    // Backups stopped two days before `now`: measured from now, 2026-11-11T13:00 would be 8d23h old.
    const snapshots = [
      snap("2026-11-10T12:00:00Z"), // 8d before the newest
      snap("2026-11-11T12:00:00Z"), // exactly 7d before the newest: not newer than 7d
      snap("2026-11-11T13:00:00Z"), // 6d23h before the newest
      snap("2026-11-15T12:00:00Z"),
      snap("2026-11-18T12:00:00Z"), // the newest
    ];
    const decision = applyRetention(snapshots, { within: 7 * DAY_MS }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-18T12:00:00Z", ["within 7d", "newest committed"]],
      ["2026-11-15T12:00:00Z", ["within 7d"]],
      ["2026-11-11T13:00:00Z", ["within 7d"]],
    ]);
    expect(removed(decision)).toEqual(["2026-11-11T12:00:00Z", "2026-11-10T12:00:00Z"]);
  });

  test("a within that is not whole days reads as the operator wrote it", () => {
    const snapshots = [snap("2026-11-20T10:00:00Z"), snap("2026-11-19T00:00:00Z")];
    const decision = applyRetention(snapshots, { within: 36 * 3_600_000 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T10:00:00Z", ["within 1d 12h", "newest committed"]],
      ["2026-11-19T00:00:00Z", ["within 1d 12h"]],
    ]);
  });
});

describe("guard rails and odd inputs", () => {
  test("snapshots dated after now are kept and do not take a place in the policy", () => {
    const snapshots = [
      snap("2026-11-20T13:00:00Z"), // one hour in the future
      snap("2026-11-20T02:00:00Z"),
      snap("2026-11-19T02:00:00Z"),
    ];
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T13:00:00Z", [REASON.future]],
      ["2026-11-20T02:00:00Z", ["last 1", "newest committed"]],
    ]);
    expect(REASON.future).toBe("future (clock skew)");
    expect(removed(decision)).toEqual(["2026-11-19T02:00:00Z"]);
  });

  test("a snapshot taken exactly at now is not in the future", () => {
    const decision = applyRetention([snap("2026-11-20T12:00:00Z")], { last: 1 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([["2026-11-20T12:00:00Z", ["last 1", "newest committed"]]]);
  });

  test("the newest snapshot that passed a verification is kept even when the policy would drop it", () => {
    const snapshots = [
      snap("2026-11-20T02:00:00Z", { verifiedOk: false }),
      snap("2026-11-19T02:00:00Z", { verifiedOk: true }),
      snap("2026-11-18T02:00:00Z", { verifiedOk: true }),
      snap("2026-11-17T02:00:00Z"),
    ];
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T02:00:00Z", ["last 1", "newest committed"]],
      ["2026-11-19T02:00:00Z", ["newest verified"]],
    ]);
    expect(removed(decision)).toEqual(["2026-11-18T02:00:00Z", "2026-11-17T02:00:00Z"]);
  });

  test("a snapshot proven damaged takes no good snapshot's place, and keeps what it kept before", () => {
    const snapshots = [
      snap("2026-11-20T11:00:00Z", { damaged: true }), // a manual run the same day, found damaged
      snap("2026-11-20T02:00:00Z"),
      snap("2026-11-19T02:00:00Z"),
      snap("2026-11-18T02:00:00Z"),
    ];
    const decision = applyRetention(snapshots, { daily: 2 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T11:00:00Z", ["daily 2026-11-20", REASON.damaged]],
      ["2026-11-20T02:00:00Z", ["daily 2026-11-20", "newest committed"]],
      ["2026-11-19T02:00:00Z", ["daily 2026-11-19"]],
    ]);
    expect(removed(decision)).toEqual(["2026-11-18T02:00:00Z"]);
  });

  test("a damaged snapshot goes when the rules counted among all would drop it; it never fills a period", () => {
    const snapshots = [
      snap("2026-11-20T02:00:00Z"),
      snap("2026-11-19T02:00:00Z"),
      snap("2026-11-18T02:00:00Z", { damaged: true }),
      snap("2026-11-17T02:00:00Z"),
    ];
    const decision = applyRetention(snapshots, { daily: 2 }, now, { timezone: "UTC" });
    expect(removed(decision)).toEqual(["2026-11-18T02:00:00Z", "2026-11-17T02:00:00Z"]);

    const newestDamaged = applyRetention(
      [snap("2026-11-20T02:00:00Z", { damaged: true }), snap("2026-11-19T02:00:00Z")],
      { last: 1 },
      now,
      { timezone: "UTC" },
    );
    expect(kept(newestDamaged)).toEqual([
      ["2026-11-20T02:00:00Z", ["last 1", REASON.damaged]],
      ["2026-11-19T02:00:00Z", ["last 1", "newest committed"]],
    ]);
  });

  test("the newest committed snapshot is kept when newer ones are only partial", () => {
    const snapshots = [
      snap("2026-11-20T02:00:00Z", { state: "partial" }),
      snap("2026-11-19T02:00:00Z", { state: "partial" }),
      snap("2026-11-18T02:00:00Z"),
      snap("2026-11-17T02:00:00Z"),
    ];
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T02:00:00Z", ["last 1"]],
      ["2026-11-18T02:00:00Z", ["newest committed"]],
    ]);
    expect(removed(decision)).toEqual(["2026-11-19T02:00:00Z", "2026-11-17T02:00:00Z"]);
  });

  test("all-partial input: partial snapshots are restorable and follow the policy; no committed guard", () => {
    const snapshots = [
      snap("2026-11-18T02:00:00Z", { state: "partial" }),
      snap("2026-11-19T02:00:00Z", { state: "partial" }),
      snap("2026-11-19T14:00:00Z", { state: "partial" }),
      snap("2026-11-20T02:00:00Z", { state: "partial" }),
    ];
    const decision = applyRetention(snapshots, { daily: 2 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T02:00:00Z", ["daily 2026-11-20"]],
      ["2026-11-19T14:00:00Z", ["daily 2026-11-19"]],
    ]);
    expect(removed(decision)).toEqual(["2026-11-19T02:00:00Z", "2026-11-18T02:00:00Z"]);
  });

  test("tiers never restrict which periods a snapshot fills (a missed weekly or monthly run)", () => {
    const snapshots = [
      snap("2026-10-30T02:00:00Z", { tiers: ["daily"] }),
      snap("2026-11-03T02:00:00Z", { tiers: ["manual"] }),
      snap("2026-11-01T02:00:00Z", { tiers: ["weekly", "monthly"] }),
    ];
    const decision = applyRetention(snapshots, { weekly: 2, monthly: 2 }, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-03T02:00:00Z", ["weekly 2026-W45", "monthly 2026-11", "newest committed"]],
      ["2026-11-01T02:00:00Z", ["weekly 2026-W44"]],
      ["2026-10-30T02:00:00Z", ["monthly 2026-10"]],
    ]);
  });

  test("empty input gives an empty decision", () => {
    const decision = applyRetention([], { daily: 7 }, now, { timezone: "UTC" });
    expect(decision.entries).toEqual([]);
    expect(decision.keep).toEqual([]);
    expect(decision.remove).toEqual([]);
    expect(decision.timezone).toBe("UTC");
    expect(decision.now).toBe(now);
  });

  test.each([
    ["an empty policy", {}],
    ["a policy of zeros", { last: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0, within: 0 }],
  ])("%s keeps everything", (_name, policy) => {
    const snapshots = [
      snap("2020-01-01T00:00:00Z"),
      snap("2026-11-20T02:00:00Z"),
      snap("2010-06-15T00:00:00Z"),
    ];
    const decision = applyRetention(snapshots, policy, now, { timezone: "UTC" });
    expect(kept(decision)).toEqual([
      ["2026-11-20T02:00:00Z", [REASON.noRule, "newest committed"]],
      ["2020-01-01T00:00:00Z", [REASON.noRule]],
      ["2010-06-15T00:00:00Z", [REASON.noRule]],
    ]);
    expect(decision.remove).toEqual([]);
  });

  test("a snapshot with an unreadable date is kept and takes no place in the policy", () => {
    const broken = { ...snap("2026-11-01T00:00:00Z"), id: "broken", createdAt: new Date("nope") };
    const snapshots = [broken, snap("2026-11-20T02:00:00Z"), snap("2026-11-19T02:00:00Z")];
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "UTC" });
    expect(decision.entries.map((e) => [e.snapshot.id, e.action, e.reasons])).toEqual([
      ["20261120T020000Z-0a1b2c3d", "keep", ["last 1", "newest committed"]],
      ["20261119T020000Z-0a1b2c3d", "remove", [REASON.removed]],
      ["broken", "keep", [REASON.unreadableDate]],
    ]);
  });

  test("snapshots taken at the same instant are ordered by id and both decided", () => {
    const a = { ...snap("2026-11-20T02:00:00Z"), id: "20261120T020000Z-aaaaaaaa" };
    const b = { ...snap("2026-11-20T02:00:00Z"), id: "20261120T020000Z-bbbbbbbb" };
    const decision = applyRetention([a, b], { last: 1 }, now, { timezone: "UTC" });
    expect(decision.entries.map((e) => [e.snapshot.id, e.action])).toEqual([
      ["20261120T020000Z-bbbbbbbb", "keep"],
      ["20261120T020000Z-aaaaaaaa", "remove"],
    ]);
  });

  test("an invalid `now` is refused rather than making every snapshot look future or past", () => {
    expect(() =>
      applyRetention([snap("2026-11-20T02:00:00Z")], { last: 1 }, new Date("nope"), { timezone: "UTC" }),
    ).toThrow("applyRetention was given an invalid `now`");
  });

  test("an unknown timezone is a config error with a hint", () => {
    let thrown: unknown;
    try {
      applyRetention([], { daily: 1 }, now, { timezone: "Europe/Pariss" });
    } catch (error) {
      thrown = error;
    }
    expect(isHavenError(thrown, "CONFIG")).toBe(true);
    expect((thrown as Error).message).toBe('unknown timezone "Europe/Pariss"');
    expect((thrown as { hint?: string }).hint).toMatch(/^set `timezone:` in haven.yaml to an IANA name/);
  });

  test.each([
    ["a negative count", { daily: -1 }, "retention.daily must be a whole number of 0 or more, got -1"],
    ["a fraction", { last: 1.5 }, "retention.last must be a whole number of 0 or more, got 1.5"],
    ["a negative within", { within: -5 }, "retention.within must be a duration of 0 or more, got -5ms"],
  ])("%s is refused as a config error", (_name, policy, message) => {
    expect(() => applyRetention([], policy, now, { timezone: "UTC" })).toThrow(message);
  });
});
