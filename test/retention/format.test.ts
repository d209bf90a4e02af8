/** What `haven prune --dry-run` prints, as a table and as JSON (`-o json`). */
import { applyRetention, planPrune, pruneJson, pruneTable } from "../../src/retention";
import { snap } from "./fixtures";

const now = new Date("2026-11-20T12:00:00Z");
const snapshots = [
  snap("2026-11-20T02:00:00Z", { tiers: ["daily", "weekly"], state: "partial" }),
  snap("2026-11-19T02:00:00Z"),
  snap("2026-11-18T02:00:00Z", { tiers: [] }),
  snap("2026-11-17T02:00:00Z", { tiers: ["manual"] }),
];

describe("pruneTable", () => {
  test("one aligned row per snapshot, local dates, then a summary", () => {
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "Europe/Paris" });
    expect(pruneTable("orders-db", decision)).toBe(
      [
        "ID                         DATE                     TIERS         ACTION  REASONS",
        "20261120T020000Z-0a1b2c3d  2026-11-20 03:00 +01:00  daily,weekly  keep    last 1",
        "20261119T020000Z-0a1b2c3d  2026-11-19 03:00 +01:00  daily         keep    newest committed",
        "20261118T020000Z-0a1b2c3d  2026-11-18 03:00 +01:00  -             remove  no rule keeps it",
        "20261117T020000Z-0a1b2c3d  2026-11-17 03:00 +01:00  manual        remove  no rule keeps it",
        "orders-db: keep 2, remove 2 (timezone Europe/Paris)",
        "",
      ].join("\n"),
    );
  });

  test("a refused run ends with the refusal and the hint", () => {
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "UTC" });
    const plan = planPrune(decision, { maxRemoveShare: 0.25, target: "orders-db" });
    const lines = pruneTable("orders-db", decision, plan).trimEnd().split("\n");
    expect(lines.slice(-3)).toEqual([
      "orders-db: keep 2, remove 2 (timezone UTC)",
      "refused: would delete 2 of 4 snapshots of orders-db (50%), more than the allowed 25% at once; refusing",
      expect.stringMatching(/^ {2}hint: check the retention policy/) as unknown,
    ]);
  });
});

describe("pruneJson", () => {
  test("has the shape { target, keep, remove } and survives a JSON round trip", () => {
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "UTC" });
    const approved = planPrune(decision, { maxRemoveShare: 0.5 });
    const json: unknown = JSON.parse(JSON.stringify(pruneJson("orders-db", decision, approved)));
    expect(json).toEqual({
      target: "orders-db",
      keep: [
        {
          id: "20261120T020000Z-0a1b2c3d",
          createdAt: "2026-11-20T02:00:00.000Z",
          tiers: ["daily", "weekly"],
          state: "partial",
          reasons: ["last 1"],
        },
        {
          id: "20261119T020000Z-0a1b2c3d",
          createdAt: "2026-11-19T02:00:00.000Z",
          tiers: ["daily"],
          state: "committed",
          reasons: ["newest committed"],
        },
      ],
      remove: [
        {
          id: "20261118T020000Z-0a1b2c3d",
          createdAt: "2026-11-18T02:00:00.000Z",
          tiers: [],
          state: "committed",
          reasons: ["no rule keeps it"],
        },
        {
          id: "20261117T020000Z-0a1b2c3d",
          createdAt: "2026-11-17T02:00:00.000Z",
          tiers: ["manual"],
          state: "committed",
          reasons: ["no rule keeps it"],
        },
      ],
    });
  });

  test("a refused run carries the reason under `refused`", () => {
    const decision = applyRetention(snapshots, { last: 1 }, now, { timezone: "UTC" });
    const plan = planPrune(decision, { maxRemoveShare: 0.25, target: "orders-db" });
    const json = pruneJson("orders-db", decision, plan);
    expect(json.refused).toBe(
      "would delete 2 of 4 snapshots of orders-db (50%), more than the allowed 25% at once; refusing",
    );
    expect(json.remove.map((e) => e.id)).toEqual(["20261118T020000Z-0a1b2c3d", "20261117T020000Z-0a1b2c3d"]);
  });
});
