import { assertValidKey, assertValidPrefix, compareKeys, directoryOf } from "../../src/storage/keys";

test("keys in Haven's layout are valid", () => {
  for (const key of [
    "orders-db/20261122T020000Z-1a2b3c4d/manifest.json",
    "_audit/2026/11/22/20261122T020000Z-abc.json",
    "a",
    ".hidden/x",
    "a..b/c",
  ]) {
    expect(() => assertValidKey(key, "nas")).not.toThrow();
  }
});

test.each([
  ["", "empty"],
  ["/abs", "absolute"],
  ["a/../b", '".." segment'],
  ["..", '".." segment'],
  ["a/./b", '"." segment'],
  ["a//b", "empty segment"],
  ["a/", "empty segment"],
  ["a\\b", "backslash"],
  ["a\0b", "NUL"],
  ["x".repeat(1025), "longer than 1024 bytes"],
])("key %j is refused: %s", (key, why) => {
  expect(() => assertValidKey(key, "nas")).toThrow(why);
});

test("list prefixes may be empty, end in / or in a partial segment, but not climb", () => {
  for (const prefix of ["", "orders-db/", "orders-db/2026", "a/b/.", "_audit/2026/1"]) {
    expect(() => assertValidPrefix(prefix, "nas")).not.toThrow();
  }
  for (const prefix of ["../", "a/../b/", "/etc/", "a//b", "a\\b/"]) {
    expect(() => assertValidPrefix(prefix, "nas")).toThrow();
  }
  expect(directoryOf("a/b/c")).toBe("a/b");
  expect(directoryOf("abc")).toBe("");
});

test("keys compare by UTF-8 bytes, as S3 lists them", () => {
  // U+FF5E (3 UTF-8 bytes, one UTF-16 unit 0xFF5E) sorts before U+1F600 (4 bytes, surrogates 0xD83D...)
  // in UTF-8 byte order, but after it in JavaScript's UTF-16 order.
  const keys = ["a/\u{1F600}", "a/\uFF5E", "a-b", "a/x", "a.txt"];
  expect([...keys].sort(compareKeys)).toEqual(["a-b", "a.txt", "a/x", "a/\uFF5E", "a/\u{1F600}"]);
  expect(["a/\u{1F600}", "a/\uFF5E"].sort()).toEqual(["a/\u{1F600}", "a/\uFF5E"]);
});
