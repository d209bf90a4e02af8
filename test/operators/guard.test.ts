import { isHavenError, type HavenError } from "../../src/lib/errors";
import { decideRestoreGuard, type RestoreGuardInput } from "../../src/operators/guard";
import type { Operator } from "../../src/operators/identity";

const op = (role: Operator["role"]): Operator => ({
  name: role,
  role,
  source: "token",
  osUser: "u",
  host: "h",
});
const plain = { name: "shared-files", protected: false };
const guarded = { name: "orders-db", protected: true };

function refused(input: RestoreGuardInput): HavenError {
  try {
    decideRestoreGuard(input);
  } catch (error) {
    if (isHavenError(error)) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

test("restores elsewhere need the operator role and nothing else, protected or not", () => {
  for (const target of [plain, guarded]) {
    expect(
      decideRestoreGuard({ target, inPlace: false, confirmed: false, operator: op("operator") }),
    ).toEqual({
      kind: "allowed",
    });
  }
  expect(refused({ target: plain, inPlace: false, confirmed: true, operator: op("viewer") }).code).toBe(
    "REFUSED",
  );
});

test("in place needs confirmation; unprotected targets then need an admin", () => {
  expect(refused({ target: plain, inPlace: true, confirmed: false, operator: op("admin") }).hint).toContain(
    "--yes",
  );
  expect(
    decideRestoreGuard({ target: plain, inPlace: true, confirmed: true, operator: op("admin") }),
  ).toEqual({
    kind: "allowed",
  });
  expect(refused({ target: plain, inPlace: true, confirmed: true, operator: op("operator") }).hint).toContain(
    "needs the admin role",
  );
});

test("protected targets in place: refused without approval, even for an admin, with the way forward", () => {
  const error = refused({ target: guarded, inPlace: true, confirmed: true, operator: op("admin") });
  expect(error.code).toBe("REFUSED");
  expect(error.message).toBe(
    "orders-db is protected: restoring over its original location needs a second operator's approval",
  );
  expect(error.hint).toContain("--request");
  expect(error.hint).toContain("haven approve REQUEST-ID");
  expect(error.hint).toContain("--break-glass");
});

test("protected targets in place: an approved request or an admin's break-glass", () => {
  expect(
    decideRestoreGuard({
      target: guarded,
      inPlace: true,
      confirmed: true,
      operator: op("operator"),
      requestId: "req-0123456789",
    }),
  ).toEqual({ kind: "approved-request", requestId: "req-0123456789" });
  expect(
    decideRestoreGuard({
      target: guarded,
      inPlace: true,
      confirmed: true,
      operator: op("admin"),
      breakGlassReason: "fire",
    }),
  ).toEqual({ kind: "break-glass", reason: "fire" });
  expect(
    refused({
      target: guarded,
      inPlace: true,
      confirmed: true,
      operator: op("operator"),
      breakGlassReason: "fire",
    }).hint,
  ).toContain("needs the admin role");
  expect(
    refused({
      target: guarded,
      inPlace: true,
      confirmed: true,
      operator: op("admin"),
      breakGlassReason: "fire",
      requestId: "req-0123456789",
    }).code,
  ).toBe("USAGE");
});
