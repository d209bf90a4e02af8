/**
 * Scratch names read back by a sweep: only the exact format of the target's own places counts, and
 * only a stamped one old enough is an orphan; old-format names are recognised, never orphans.
 */
import {
  DATABASE_FORMAT,
  DIR_FORMAT,
  isOrphan,
  readScratchName,
  SCRATCH_ORPHAN_AGE_MS,
  scratchDatabaseName,
  scratchDirPrefix,
  stampedDirPrefix,
} from "../../src/verify/scratch/names";

const now = new Date("2026-12-06T20:21:10Z");
const old = new Date(now.getTime() - SCRATCH_ORPHAN_AGE_MS - 60_000);
const young = new Date(now.getTime() - SCRATCH_ORPHAN_AGE_MS + 60_000);

test("a database of this target older than the orphan age is an orphan; a younger one is not", () => {
  const format = DATABASE_FORMAT("shop");
  const oldName = readScratchName(scratchDatabaseName("shop", old, "00ff"), format, now);
  expect(oldName).toEqual({ kind: "stamped", createdAt: new Date(Math.floor(old.getTime() / 1000) * 1000) });
  expect(isOrphan(oldName, now)).toBe(true);
  expect(isOrphan(readScratchName(scratchDatabaseName("shop", young, "00ff"), format, now), now)).toBe(false);
});

test("other targets' places, look-alikes and old-format names are never orphans", () => {
  const format = DATABASE_FORMAT("shop");
  const read = (name: string) => readScratchName(name, format, now);
  expect(read(scratchDatabaseName("shop_eu", old, "00ff")).kind).toBe("other");
  expect(read(scratchDatabaseName("sho", old, "00ff")).kind).toBe("other");
  expect(read("haven_verify_shop_reports_2024").kind).toBe("other");
  expect(read("haven_verify_shop_abc_1234").kind).toBe("other");
  expect(read("haven_verify_shop")).toEqual({ kind: "other" });
  expect(read("haven_shop")).toEqual({ kind: "other" });
  // A stamp before the format existed, or far in the future, is not Haven's.
  expect(read("haven_verify_shop_0000001_00ff").kind).toBe("other");
  expect(read(scratchDatabaseName("shop", new Date(now.getTime() + 86_400_000), "00ff")).kind).toBe("other");
  const legacy = read("haven_verify_shop_1a2b3c4d");
  expect(legacy).toEqual({ kind: "legacy" });
  expect(isOrphan(legacy, now)).toBe(false);
});

test("folder names: this target's stamped folders only; mkdtemp's six characters after the time", () => {
  const format = DIR_FORMAT(scratchDirPrefix("shop"));
  const made = `${stampedDirPrefix(scratchDirPrefix("shop"), old)}Ab12Cd`;
  expect(made).toMatch(/^haven-verify-shop-[0-9a-z]{7}-Ab12Cd$/);
  expect(isOrphan(readScratchName(made, format, now), now)).toBe(true);
  expect(
    readScratchName(`${stampedDirPrefix(scratchDirPrefix("shop-eu"), old)}Ab12Cd`, format, now).kind,
  ).toBe("other");
  expect(readScratchName("haven-verify-shop-Ab12Cd", format, now)).toEqual({ kind: "legacy" });
  expect(readScratchName("haven-verify-shop-notes", format, now)).toEqual({ kind: "other" });
});
