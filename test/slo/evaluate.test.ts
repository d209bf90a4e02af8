import {
  evaluateRpo,
  evaluateRto,
  evaluateTarget,
  scheduleOf,
  statusExitCode,
  worstStatus,
} from "../../src/slo/evaluate";
import type { RestoreTestPoint, SnapshotPoint, VerificationPoint } from "../../src/slo/types";
import { damagedSnapshots } from "../../src/verify/damage";
import type { TargetConfig } from "../../src/config/types";
import { conditionsFromEvaluation } from "../../src/alerts/conditions";

const H = 3_600_000;
const MIN = 60_000;
const DAY = 24 * H;
const GiB = 1024 ** 3;

const at = (iso: string) => new Date(iso);
const snapshot = (id: string, finishedAt: string, extra: Partial<SnapshotPoint> = {}): SnapshotPoint => ({
  id,
  finishedAt: at(finishedAt),
  state: "committed",
  ...extra,
});

describe("evaluateRpo", () => {
  const now = at("2026-11-22T12:00:00Z");

  test("ok while the newest snapshot is within the RPO, with its age", () => {
    const result = evaluateRpo({
      target: "orders-db",
      rpoMs: 26 * H,
      snapshots: [snapshot("a", "2026-11-20T02:05:00Z"), snapshot("b", "2026-11-22T02:05:00Z")],
      now,
    });
    expect(result).toMatchObject({
      status: "ok",
      newest: { id: "b", finishedAt: at("2026-11-22T02:05:00Z") },
      newestAgeMs: 9 * H + 55 * MIN,
      since: null,
      missedSchedules: [],
    });
  });

  test("an age exactly equal to the RPO is still ok; one millisecond more is a breach", () => {
    const snapshots = [snapshot("a", "2026-11-21T10:00:00Z")];
    expect(evaluateRpo({ target: "t", rpoMs: 26 * H, snapshots, now }).status).toBe("ok");
    const later = new Date(now.getTime() + 1);
    expect(evaluateRpo({ target: "t", rpoMs: 26 * H, snapshots, now: later }).status).toBe("breached");
  });

  test("breached when the newest is older than the RPO; the breach began at finishedAt + RPO", () => {
    const result = evaluateRpo({
      target: "orders-db",
      rpoMs: 26 * H,
      snapshots: [snapshot("old", "2026-11-20T02:05:00Z")],
      now,
    });
    expect(result.status).toBe("breached");
    expect(result.newestAgeMs).toBe(2 * DAY + 9 * H + 55 * MIN);
    expect(result.since).toEqual(at("2026-11-21T04:05:00Z"));
    expect(result.reason).toMatch(/newest snapshot old is 2d 9h old; the RPO is 1d 2h/);
  });

  test("the age counts from the backup's start: a 3-hour backup that finished 23h ago holds data 26h old", () => {
    const long = snapshot("20261121T090000Z-0a0b0c0d", "2026-11-21T13:00:00Z", {
      startedAt: at("2026-11-21T09:59:59.999Z"),
    });
    const result = evaluateRpo({ target: "orders-db", rpoMs: 26 * H, snapshots: [long], now });
    expect(result).toMatchObject({
      status: "breached",
      newestAgeMs: 26 * H + 1,
      since: at("2026-11-22T11:59:59.999Z"),
      newest: { startedAt: at("2026-11-21T09:59:59.999Z"), finishedAt: at("2026-11-21T13:00:00Z") },
    });
    // The alert says where the age counts from.
    const evaluation = evaluateTarget({
      target: "orders-db",
      rpoMs: 26 * H,
      rtoMs: H,
      snapshots: [long],
      verifications: [],
      now,
    });
    const [breach] = conditionsFromEvaluation(evaluation);
    expect(breach?.event).toMatchObject({
      type: "rpo-breached",
      since: "2026-11-22T11:59:59.999Z",
      details: { "data as of": "2026-11-21T09:59:59.999Z", age: "1d 2h" },
    });
  });

  test("without startedAt the id's time (minted at the start) is the recovery point, and the newest is the latest start", () => {
    const result = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots: [
        // A long run that started first and finished last does not hold the newest data.
        snapshot("20261121T020000Z-0a0b0c0d", "2026-11-21T09:00:00Z"),
        snapshot("20261121T030000Z-0a0b0c0e", "2026-11-21T03:10:00Z"),
      ],
      now,
    });
    expect(result.newest?.id).toBe("20261121T030000Z-0a0b0c0e");
    expect(result.newestAgeMs).toBe(33 * H);
  });

  test("partial snapshots are recovery points; other states are not", () => {
    const result = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots: [
        snapshot("good", "2026-11-20T02:00:00Z"),
        snapshot("partial", "2026-11-21T02:00:00Z", { state: "partial" }),
        snapshot("failed", "2026-11-22T02:00:00Z", { state: "failed" }),
      ],
      now,
    });
    expect(result.newest?.id).toBe("partial");
    expect(result.status).toBe("breached");
  });

  test("trackedSince gives no grace to a target that has a snapshot, even one proven damaged", () => {
    const result = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots: [snapshot("bad", "2026-11-22T02:00:00Z")],
      damaged: new Set(["bad"]),
      now,
      trackedSince: at("2026-11-22T11:00:00Z"), // the alert state was rebuilt an hour ago
    });
    expect(result).toMatchObject({ status: "breached", since: null });
  });

  test("no snapshot: breached with unknown start, or ok until trackedSince + RPO", () => {
    expect(evaluateRpo({ target: "t", rpoMs: 26 * H, snapshots: [], now })).toMatchObject({
      status: "breached",
      since: null,
      newest: null,
      newestAgeMs: null,
    });
    const tracked = at("2026-11-22T00:00:00Z");
    expect(
      evaluateRpo({ target: "t", rpoMs: 26 * H, snapshots: [], now, trackedSince: tracked }).status,
    ).toBe("ok");
    const late = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots: [],
      now: at("2026-11-23T03:00:00Z"),
      trackedSince: tracked,
    });
    expect(late).toMatchObject({ status: "breached", since: at("2026-11-23T02:00:00Z") });
  });

  test("missed schedule with a daily cron: firings past the grace with no snapshot after them", () => {
    const schedule = { patterns: ["0 2 * * *"], timezone: "UTC" };
    const snapshots = [snapshot("a", "2026-11-20T02:10:00Z")];

    // 02:30: today's 02:00 run is within its 1 h grace; yesterday's never produced a snapshot.
    const early = evaluateRpo({
      target: "t",
      rpoMs: 3 * DAY,
      snapshots,
      schedule,
      now: at("2026-11-22T02:30:00Z"),
    });
    expect(early.missedSchedules).toEqual([{ at: at("2026-11-21T02:00:00Z"), pattern: "0 2 * * *" }]);
    expect(early.status).toBe("ok"); // a missed run is reported before the RPO is breached

    // 03:30: today's is past its grace too.
    const late = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots,
      schedule,
      now: at("2026-11-22T03:30:00Z"),
    });
    expect(late.missedSchedules.map((m) => m.at)).toEqual([
      at("2026-11-21T02:00:00Z"),
      at("2026-11-22T02:00:00Z"),
    ]);

    // A run that finished after today's firing covers every firing before it.
    const covered = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots: [...snapshots, snapshot("b", "2026-11-22T02:04:00Z")],
      schedule,
      now: at("2026-11-22T03:30:00Z"),
    });
    expect(covered.missedSchedules).toEqual([]);

    // A custom grace: with 2 h, today's firing is not missed at 03:30.
    const graceful = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots,
      schedule,
      now: at("2026-11-22T03:30:00Z"),
      graceMs: 2 * H,
    });
    expect(graceful.missedSchedules.map((m) => m.at)).toEqual([at("2026-11-21T02:00:00Z")]);
  });

  test("schedules are read in the configured timezone, and several patterns are merged in time order", () => {
    const result = evaluateRpo({
      target: "t",
      rpoMs: 7 * DAY,
      snapshots: [snapshot("a", "2026-11-21T12:00:00Z")],
      // 02:00 in Paris is 01:00 UTC in November; 2026-11-22 is a Sunday.
      schedule: { patterns: ["0 2 * * *", "0 3 * * 0"], timezone: "Europe/Paris" },
      now: at("2026-11-22T06:00:00Z"),
    });
    expect(result.missedSchedules).toEqual([
      { at: at("2026-11-22T01:00:00Z"), pattern: "0 2 * * *" },
      { at: at("2026-11-22T02:00:00Z"), pattern: "0 3 * * 0" },
    ]);
  });

  test("a target whose runs take hours gets twice its longest recent run as grace, so a running dump is not missed", () => {
    const schedule = { patterns: ["0 2 * * *"], timezone: "UTC" };
    // Yesterday's run took 2.5 h; today's started at 02:00 and is still running at 04:30.
    const snapshots = [snapshot("a", "2026-11-21T04:30:00Z", { startedAt: at("2026-11-21T02:00:00Z") })];
    const running = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots,
      schedule,
      now: at("2026-11-22T04:30:00Z"),
    });
    expect(running.missedSchedules).toEqual([]);
    // Past twice that (5 h) it counts as missed.
    const late = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots,
      schedule,
      now: at("2026-11-22T07:01:00Z"),
    });
    expect(late.missedSchedules.map((m) => m.at)).toEqual([at("2026-11-22T02:00:00Z")]);
  });

  test("across DST changes the firings are BullMQ's: the repeated autumn hour once, the shifted spring firing counted", () => {
    // Europe/Berlin leaves summer time on 2026-10-25 at 03:00 (02:00-03:00 happens twice).
    const autumn = evaluateRpo({
      target: "t",
      rpoMs: 3 * DAY,
      snapshots: [snapshot("a", "2026-10-24T23:00:00Z")],
      schedule: { patterns: ["0 2 * * *"], timezone: "Europe/Berlin" },
      now: at("2026-10-25T12:00:00Z"),
    });
    expect(autumn.missedSchedules).toHaveLength(1);
    // Summer time starts on 2026-03-29 at 02:00: 02:30 does not exist that day and fires at 03:30 (01:30 UTC).
    const spring = evaluateRpo({
      target: "t",
      rpoMs: 3 * DAY,
      snapshots: [snapshot("a", "2026-03-28T23:00:00Z")],
      schedule: { patterns: ["30 2 * * *"], timezone: "Europe/Berlin" },
      now: at("2026-03-29T12:00:00Z"),
    });
    expect(spring.missedSchedules).toHaveLength(1);
  });

  test("missed firings are looked for within the lookback only", () => {
    const result = evaluateRpo({
      target: "t",
      rpoMs: 26 * H,
      snapshots: [],
      schedule: { patterns: ["0 2 * * *"], timezone: "UTC" },
      now: at("2026-11-22T12:00:00Z"),
      lookbackMs: 3 * DAY,
    });
    expect(result.missedSchedules.map((m) => m.at.toISOString())).toEqual([
      "2026-11-20T02:00:00.000Z",
      "2026-11-21T02:00:00.000Z",
      "2026-11-22T02:00:00.000Z",
    ]);
  });
});

/** Weekly restore tests of a database growing by 10 GiB a week; restore time 30 min + 3 min per GiB. */
function growingHistory(weeks: number, start = at("2026-10-03T06:00:00Z")) {
  const tests: RestoreTestPoint[] = [];
  const snapshots: SnapshotPoint[] = [];
  for (let week = 0; week < weeks; week++) {
    const finishedAt = new Date(start.getTime() + week * 7 * DAY);
    const size = (week + 1) * 10 * GiB;
    tests.push({
      snapshotId: `s${week}`,
      finishedAt,
      totalMs: 30 * MIN + (3 * MIN * size) / GiB,
      result: "passed",
      plainSize: size,
    });
  }
  // Daily snapshots along the same growth, the newest a few days after the last test.
  for (let day = 0; day < weeks * 7 + 3; day++) {
    snapshots.push({
      id: `d${day}`,
      finishedAt: new Date(start.getTime() + day * DAY),
      state: "committed",
      plainSize: Math.round(10 * GiB + (day * 10 * GiB) / 7),
    });
  }
  return { tests, snapshots };
}

describe("evaluateRto", () => {
  const now = at("2026-11-01T12:00:00Z");

  test("unknown when no restore test exists", () => {
    const result = evaluateRto({ target: "t", rtoMs: 4 * H, restoreTests: [], now });
    expect(result).toMatchObject({ status: "unknown", lastMs: null, forecastMs: null });
    expect(result.reason).toMatch(/no restore test of t yet/);
  });

  test("ok when the newest restore test is well within the RTO", () => {
    const result = evaluateRto({
      target: "t",
      rtoMs: 4 * H,
      restoreTests: [
        { snapshotId: "a", finishedAt: at("2026-10-31T06:00:00Z"), totalMs: H, result: "passed" },
      ],
      now,
    });
    expect(result).toMatchObject({ status: "ok", lastMs: H, forecastMs: null, since: null });
  });

  test("breached when the newest passed restore test took longer than the RTO", () => {
    const result = evaluateRto({
      target: "t",
      rtoMs: 4 * H,
      restoreTests: [
        { snapshotId: "a", finishedAt: at("2026-10-24T06:00:00Z"), totalMs: 2 * H, result: "passed" },
        { snapshotId: "b", finishedAt: at("2026-10-31T06:00:00Z"), totalMs: 5 * H, result: "passed" },
      ],
      now,
    });
    expect(result).toMatchObject({ status: "breached", lastMs: 5 * H, since: at("2026-10-31T06:00:00Z") });
    expect(result.reason).toMatch(/took 5h, over the RTO of 4h/);
  });

  test("breached when the newest restore test failed, even if earlier ones passed", () => {
    const result = evaluateRto({
      target: "t",
      rtoMs: 4 * H,
      restoreTests: [
        { snapshotId: "a", finishedAt: at("2026-10-24T06:00:00Z"), totalMs: H, result: "passed" },
        { snapshotId: "b", finishedAt: at("2026-10-31T06:00:00Z"), totalMs: 20 * MIN, result: "failed" },
      ],
      now,
    });
    expect(result).toMatchObject({ status: "breached", lastMs: H, since: at("2026-10-31T06:00:00Z") });
    expect(result.reason).toMatch(/newest restore test \(snapshot b\) failed/);
  });

  test("at-risk when the last measurement itself reaches 80 % of the RTO", () => {
    const result = evaluateRto({
      target: "t",
      rtoMs: 4 * H,
      restoreTests: [
        { snapshotId: "a", finishedAt: at("2026-10-31T06:00:00Z"), totalMs: 3.3 * H, result: "passed" },
      ],
      now,
    });
    expect(result.status).toBe("at-risk");
  });

  test("sizes growing linearly: the size model forecasts past 80 % of the RTO before any breach", () => {
    const { tests, snapshots } = growingHistory(4); // 10..40 GiB: 60, 90, 120, 150 min
    const result = evaluateRto({ target: "t", rtoMs: 4 * H, restoreTests: tests, snapshots, now });

    expect(result.lastMs).toBe(150 * MIN); // 62 % of the RTO: fine today
    expect(result.status).toBe("at-risk");
    const newest = result.forecasts.find((f) => f.basis === "newest-size");
    const trend = result.forecasts.find((f) => f.basis === "size-trend");
    // The newest snapshot (day 30: 10 + 300/7 GiB) restores in about 30 + 3 × 52.9 min.
    expect(newest?.model).toBe("size");
    expect(newest!.ms / MIN).toBeCloseTo(30 + 3 * (10 + 300 / 7), 0);
    // Thirty days out the size trend gives ~ 97 GiB: about 5 h, past 80 % of 4 h (3.2 h).
    expect(trend!.ms).toBeGreaterThan(0.8 * 4 * H);
    expect(result.forecastMs).toBe(trend!.ms);
    expect(result.reason).toMatch(/forecast to reach/);

    // The same history against an 8 h RTO stays ok.
    expect(evaluateRto({ target: "t", rtoMs: 8 * H, restoreTests: tests, snapshots, now }).status).toBe("ok");
  });

  test("flat sizes: the time trend forecasts instead", () => {
    const restoreTests: RestoreTestPoint[] = [60, 70, 80, 90].map((minutes, week) => ({
      snapshotId: `s${week}`,
      finishedAt: new Date(at("2026-10-10T06:00:00Z").getTime() + week * 7 * DAY),
      totalMs: minutes * MIN,
      result: "passed",
      plainSize: 50 * GiB,
    }));
    const result = evaluateRto({ target: "t", rtoMs: 2 * H, restoreTests, now });
    expect(result.forecasts.map((f) => f.model)).toEqual(["time"]);
    // +10 min a week; 30 days after now (itself 1.25 days after the last test) ≈ 90 + 44.6 min.
    expect(result.forecastMs! / MIN).toBeCloseTo(90 + (10 * (30 + 1.25)) / 7, 0);
    expect(result.status).toBe("at-risk"); // 90 min is 75 % today, the forecast is past 80 %
  });

  test("fewer than three passed tests make no forecast; a shrinking trend never lowers the risk", () => {
    const two = growingHistory(2);
    expect(
      evaluateRto({ target: "t", rtoMs: 4 * H, restoreTests: two.tests, snapshots: two.snapshots, now })
        .forecastMs,
    ).toBeNull();

    const faster: RestoreTestPoint[] = [90, 80, 70].map((minutes, week) => ({
      snapshotId: `s${week}`,
      finishedAt: new Date(at("2026-10-10T06:00:00Z").getTime() + week * 7 * DAY),
      totalMs: minutes * MIN,
      result: "passed",
    }));
    const result = evaluateRto({ target: "t", rtoMs: 4 * H, restoreTests: faster, now });
    expect(result).toMatchObject({ status: "ok", forecastMs: null, forecasts: [], lastMs: 70 * MIN });
  });
});

describe("evaluateTarget", () => {
  const now = at("2026-11-22T12:00:00Z");
  const integrity = (
    snapshotId: string,
    finishedAt: string,
    result: "passed" | "failed",
  ): VerificationPoint => ({
    kind: "integrity",
    snapshotId,
    finishedAt: at(finishedAt),
    totalMs: 1000,
    result,
  });
  const passedRestore = (finishedAt: string, totalMs: number): VerificationPoint => ({
    kind: "restore",
    snapshotId: "s",
    finishedAt: at(finishedAt),
    totalMs,
    result: "passed",
  });

  test("all well: ok, exit code 0", () => {
    const evaluation = evaluateTarget({
      target: "orders-db",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots: [snapshot("s", "2026-11-22T02:05:00Z", { storedSize: 100, plainSize: 400 })],
      verifications: [passedRestore("2026-11-21T06:30:00Z", 40 * MIN)],
      schedule: { patterns: ["0 2 * * *"], timezone: "UTC" },
      now,
    });
    expect(evaluation).toMatchObject({ status: "ok", reasons: [], storedBytes: 100, evaluatedAt: now });
    expect(evaluation.newestSnapshot?.id).toBe("s");
    expect(evaluation.lastVerification?.kind).toBe("restore");
    expect(statusExitCode([evaluation])).toBe(0);
  });

  test("an RPO breach makes the target breached and the exit code 3", () => {
    const evaluation = evaluateTarget({
      target: "orders-db",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots: [snapshot("s", "2026-11-20T02:05:00Z")],
      verifications: [passedRestore("2026-11-21T06:30:00Z", 40 * MIN)],
      now,
    });
    expect(evaluation.status).toBe("breached");
    expect(evaluation.reasons[0]).toMatch(/^RPO: newest snapshot s is/);
    expect(statusExitCode([evaluation])).toBe(3);
  });

  test("a missed schedule or a failed integrity check is at-risk; no restore test is unknown", () => {
    const missed = evaluateTarget({
      target: "t",
      rpoMs: 7 * DAY,
      rtoMs: 4 * H,
      snapshots: [snapshot("s", "2026-11-20T02:05:00Z")],
      verifications: [passedRestore("2026-11-21T06:30:00Z", 40 * MIN)],
      schedule: { patterns: ["0 2 * * *"], timezone: "UTC" },
      now,
    });
    expect(missed.status).toBe("at-risk");
    expect(missed.reasons).toEqual([
      expect.stringMatching(/2 scheduled backup\(s\) missed since 2026-11-21T02:00/),
    ]);

    const integrity = evaluateTarget({
      target: "t",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots: [snapshot("s", "2026-11-22T02:05:00Z")],
      verifications: [
        passedRestore("2026-11-21T06:30:00Z", 40 * MIN),
        {
          kind: "integrity",
          snapshotId: "s",
          finishedAt: at("2026-11-22T02:30:00Z"),
          totalMs: 1000,
          result: "failed",
        },
      ],
      now,
    });
    expect(integrity.status).toBe("at-risk");
    expect(integrity.rto.status).toBe("ok");

    const untested = evaluateTarget({
      target: "t",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots: [snapshot("s", "2026-11-22T02:05:00Z")],
      verifications: [],
      now,
    });
    expect(untested.status).toBe("unknown");
    expect(statusExitCode([untested, integrity, missed])).toBe(0);
  });

  test("a pass on an older snapshot does not stand over the newest verified snapshot's failure", () => {
    const evaluate = (verifications: VerificationPoint[]) =>
      evaluateTarget({
        target: "t",
        rpoMs: 26 * H,
        rtoMs: 4 * H,
        snapshots: [
          snapshot("20261121T020000Z-aaaa0001", "2026-11-21T02:05:00Z"),
          snapshot("20261122T020000Z-bbbb0002", "2026-11-22T02:05:00Z"),
        ],
        verifications: [
          { ...passedRestore("2026-11-21T06:30:00Z", 40 * MIN), snapshotId: "20261121T020000Z-aaaa0001" },
          ...verifications,
        ],
        now,
      });
    const failedNewest = integrity("20261122T020000Z-bbbb0002", "2026-11-22T03:00:00Z", "failed");
    // A later random pick of the older snapshot passes: the newest snapshot is still known bad.
    const laterOlderPass = integrity("20261121T020000Z-aaaa0001", "2026-11-22T09:00:00Z", "passed");
    const stillBad = evaluate([failedNewest, laterOlderPass]);
    expect(stillBad.lastVerification).toMatchObject({
      snapshotId: "20261122T020000Z-bbbb0002",
      result: "failed",
    });
    expect(stillBad.status).toBe("at-risk");
    // Checked again and passing, the newest snapshot clears it.
    const rechecked = evaluate([
      failedNewest,
      laterOlderPass,
      integrity("20261122T020000Z-bbbb0002", "2026-11-22T10:00:00Z", "passed"),
    ]);
    expect(rechecked.lastVerification).toMatchObject({ result: "passed" });
    expect(rechecked.status).toBe("ok");
  });

  test("of two snapshots taken in the same second, the one started later is the newest, whatever their random tails", () => {
    // Ids have second precision: "ffff" sorts after "0000" though it was taken first.
    const first = "20261122T020000Z-ffff0001";
    const second = "20261122T020000Z-00000002";
    const snapshots = [
      snapshot(first, "2026-11-22T02:00:00.400Z", { startedAt: at("2026-11-22T02:00:00.100Z") }),
      snapshot(second, "2026-11-22T02:00:00.900Z", { startedAt: at("2026-11-22T02:00:00.600Z") }),
    ];
    const evaluation = evaluateTarget({
      target: "t",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots,
      verifications: [
        { ...passedRestore("2026-11-22T02:30:00Z", 40 * MIN), snapshotId: second },
        integrity(first, "2026-11-22T02:00:01Z", "failed"),
        integrity(second, "2026-11-22T02:00:02Z", "passed"),
      ],
      now,
    });
    expect(evaluation.lastVerification).toMatchObject({ snapshotId: second });
    expect(evaluation.status).toBe("ok");
  });

  test("a snapshot proven damaged is not a good backup: the RPO counts from the one before, until a re-check passes", () => {
    const older = "20261121T020000Z-00000001";
    const newer = "20261122T020000Z-00000002";
    const evaluate = (verifications: VerificationPoint[]) =>
      evaluateTarget({
        target: "t",
        rpoMs: 26 * H,
        rtoMs: 4 * H,
        snapshots: [snapshot(older, "2026-11-21T02:05:00Z"), snapshot(newer, "2026-11-22T02:05:00Z")],
        verifications: [
          { ...passedRestore("2026-11-21T06:30:00Z", 40 * MIN), snapshotId: older },
          ...verifications,
        ],
        now,
      });
    const corrupt = { ...integrity(newer, "2026-11-22T03:00:00Z", "failed"), damaged: true };
    const damaged = evaluate([corrupt]);
    expect(damaged.rpo).toMatchObject({ status: "breached", newest: { id: older } });
    // 34h: its data is from its start, 02:00 (its id's time), not its finish at 02:05.
    expect(damaged.rpo.reason).toBe(
      `newest good snapshot ${older} is 1d 10h old; the newer snapshot ${newer} failed its verification; the RPO is 1d 2h`,
    );
    expect(damaged.newestSnapshot?.id).toBe(newer);
    // A later failure that proves nothing (the network) does not make the snapshot good again...
    const inconclusive = integrity(newer, "2026-11-22T04:00:00Z", "failed");
    expect(evaluate([corrupt, inconclusive]).rpo.status).toBe("breached");
    // ...a pass does (the object was repaired, or the first read was wrong).
    const rechecked = evaluate([corrupt, inconclusive, integrity(newer, "2026-11-22T05:00:00Z", "passed")]);
    expect(rechecked.rpo).toMatchObject({ status: "ok", newest: { id: newer } });
  });

  test("a restore test that failed only its freshness guard still measures the RTO; the stale target is the RPO's breach", () => {
    const evaluation = evaluateTarget({
      target: "t",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots: [snapshot("s", "2026-11-20T02:05:00Z")],
      verifications: [{ ...passedRestore("2026-11-22T06:30:00Z", 40 * MIN), result: "failed", stale: true }],
      now,
    });
    expect(evaluation.rpo.status).toBe("breached");
    expect(evaluation.rto).toMatchObject({ status: "ok", lastMs: 40 * MIN });
    expect(evaluation.reasons).toEqual([expect.stringMatching(/^RPO: /)]);
    expect(conditionsFromEvaluation(evaluation).map((c) => c.event.type)).toEqual(["rpo-breached"]);
  });

  test("an integrity pass does not clear what a restore test found wrong in the content; a restore pass does", () => {
    const rowsWrong: VerificationPoint = {
      ...passedRestore("2026-11-22T06:00:00Z", 40 * MIN),
      snapshotId: "x",
      result: "failed",
      damaged: true,
    };
    const bytesMatch = integrity("x", "2026-11-22T07:00:00Z", "passed");
    expect([...damagedSnapshots([rowsWrong, bytesMatch])]).toEqual(["x"]);
    const restoredFine = { ...passedRestore("2026-11-22T08:00:00Z", 40 * MIN), snapshotId: "x" };
    expect([...damagedSnapshots([rowsWrong, bytesMatch, restoredFine])]).toEqual([]);
    // An integrity check's own finding is cleared by either kind passing later.
    const hashWrong = { ...integrity("y", "2026-11-22T06:00:00Z", "failed"), damaged: true };
    expect([...damagedSnapshots([hashWrong, integrity("y", "2026-11-22T07:00:00Z", "passed")])]).toEqual([]);
  });

  test("worstStatus orders breached > at-risk > unknown > ok", () => {
    expect(worstStatus([])).toBe("ok");
    expect(worstStatus(["ok", "unknown"])).toBe("unknown");
    expect(worstStatus(["unknown", "at-risk", "ok"])).toBe("at-risk");
    expect(worstStatus(["at-risk", "breached", "unknown"])).toBe("breached");
  });

  test("scheduleOf collects a configured target's tier patterns", () => {
    const target = { schedule: { daily: "0 2 * * *", monthly: "0 4 1 * *" } } as unknown as TargetConfig;
    expect(scheduleOf(target, "Europe/Paris")).toEqual({
      patterns: ["0 2 * * *", "0 4 1 * *"],
      timezone: "Europe/Paris",
    });
    expect(scheduleOf({ schedule: {} } as unknown as TargetConfig, "UTC")).toBeUndefined();
  });
});

describe("missed verifications", () => {
  // Saturday 06:00 UTC, the default verify schedule; Nov 21 2026 is a Saturday.
  const weekly = { patterns: ["0 6 * * 6"], timezone: "UTC" };
  const daily = (days: number[]) => days.map((d) => snapshot(`s${d}`, `2026-11-${d}T02:05:00Z`));
  const restoreOn = (iso: string): VerificationPoint => ({
    kind: "restore",
    snapshotId: "s20",
    finishedAt: at(iso),
    totalMs: 20 * MIN,
    result: "passed",
  });
  const evaluate = (now: string, verifications: VerificationPoint[], snapshots = daily([13, 20, 21, 22])) =>
    evaluateTarget({
      target: "t",
      rpoMs: 26 * H,
      rtoMs: 4 * H,
      snapshots,
      verifications,
      verifySchedule: weekly,
      now: at(now),
    });

  test("a verify firing with no record after it, past the RTO plus an hour, makes the target at-risk", () => {
    // Last Saturday's test ran; this Saturday's (Nov 21 06:00) left nothing.
    const stale = evaluate("2026-11-22T12:00:00Z", [restoreOn("2026-11-14T06:30:00Z")]);
    expect(stale.missedVerifications).toEqual([{ at: at("2026-11-21T06:00:00Z"), pattern: "0 6 * * 6" }]);
    expect(stale.status).toBe("at-risk");
    expect(stale.reasons).toContain(
      "1 scheduled verification(s) left no record since 2026-11-21T06:00:00.000Z",
    );
    expect(stale.rto.status).toBe("ok");
  });

  test("not yet missed within the RTO plus an hour of the firing, nor once a record follows it", () => {
    expect(evaluate("2026-11-21T10:59:00Z", [restoreOn("2026-11-14T06:30:00Z")]).missedVerifications).toEqual(
      [],
    );
    const done = evaluate("2026-11-22T12:00:00Z", [
      restoreOn("2026-11-14T06:30:00Z"),
      { ...restoreOn("2026-11-21T06:40:00Z"), result: "failed" }, // any record counts: it ran
    ]);
    expect(done.missedVerifications).toEqual([]);
  });

  test("firings before the first snapshot had nothing to verify", () => {
    const young = evaluate("2026-11-22T12:00:00Z", [], daily([22]));
    expect(young.missedVerifications).toEqual([]);
    expect(young.status).toBe("unknown"); // no restore test yet
  });
});
