/** How a verification records an error: pure logic over Haven's error classification. */
import { decryptError, decryptHints } from "../../src/crypto/errors";
import { HavenError } from "../../src/lib/errors";
import { provesSnapshotDamaged, saysNothingOfSnapshot, verificationErrorCode } from "../../src/verify/damage";

test.each([
  [
    "a chunk failing authentication once the key matched is damage",
    decryptError("chunk 3 failed", decryptHints.corrupt),
    "INTEGRITY",
  ],
  [
    "no identity matching is a key problem",
    decryptError("no identity", decryptHints.wrongIdentity),
    "DECRYPT",
  ],
  ["a hash mismatch stays INTEGRITY", new HavenError("INTEGRITY", "sha256 mismatch"), "INTEGRITY"],
  ["a network error stays TRANSIENT", new HavenError("TRANSIENT", "socket hang up"), "TRANSIENT"],
  ["anything else is FAILED", new Error("boom"), "FAILED"],
])("%s", (_what, error, code) => {
  expect(verificationErrorCode(error)).toBe(code);
});

test.each([
  ["a wrong identity", "DECRYPT", true],
  ["a refused login", "CREDENTIALS", true],
  ["the network", "TRANSIENT", true],
  ["a restore test stopped at verify.timeout", "TIMEOUT", true],
  ["a hash mismatch", "INTEGRITY", false],
  ["an unknown failure", "FAILED", false],
])("a verification failed by %s says nothing of its snapshot: %s", (_what, code, nothing) => {
  const outcome = { result: "failed", checks: [], error: { code } };
  expect(saysNothingOfSnapshot(outcome)).toBe(nothing);
  if (nothing) expect(provesSnapshotDamaged(outcome)).toBe(false);
});
