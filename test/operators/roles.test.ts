import { authorize } from "../../src/operators/authorize";
import type { Operator } from "../../src/operators/identity";
import {
  PERMISSIONS,
  permissionsOf,
  roleAllows,
  type Permission,
  type Role,
} from "../../src/operators/roles";
import { HavenError } from "../../src/lib/errors";

const operator = (role: Role): Operator => ({
  name: `${role}-1`,
  role,
  source: "token",
  osUser: "u",
  host: "h",
});

test("the permission table: viewer reads, operator backs up and restores elsewhere, admin does the rest", () => {
  const table = Object.fromEntries(
    (["viewer", "operator", "admin"] as const).map((role) => [role, permissionsOf(role)]),
  );
  expect(table).toEqual({
    viewer: ["list", "status", "read"],
    operator: [
      "list",
      "status",
      "read",
      "backup",
      "verify",
      "send-report",
      "restore-elsewhere",
      "request-restore",
    ],
    admin: Object.keys(PERMISSIONS),
  });
  expect(roleAllows("operator", "restore-in-place")).toBe(false);
  expect(roleAllows("admin", "restore-in-place")).toBe(true);
});

test.each<[Role, Permission, Role]>([
  ["viewer", "backup", "operator"],
  ["viewer", "restore-elsewhere", "operator"],
  ["viewer", "send-report", "operator"],
  ["operator", "restore-in-place", "admin"],
  ["operator", "approve", "admin"],
  ["operator", "prune", "admin"],
  ["operator", "break-glass", "admin"],
])("a %s may not %s: REFUSED, and the hint names the %s role", (role, permission, needed) => {
  let error: unknown;
  try {
    authorize(operator(role), permission, "orders-db");
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(HavenError);
  const refusal = error as HavenError;
  expect(refusal.code).toBe("REFUSED");
  expect(refusal.message).toMatch(new RegExp(`^operator ${role}-1 \\(${role}\\) may not .*\\(orders-db\\)$`));
  expect(refusal.hint).toContain(`needs the ${needed} role or higher`);
  expect(refusal.hint).toContain(`operators.${role}-1.role`);
});

test("allowed permissions return quietly", () => {
  expect(() => authorize(operator("viewer"), "read")).not.toThrow();
  expect(() => authorize(operator("operator"), "backup", "orders-db")).not.toThrow();
  expect(() => authorize(operator("admin"), "break-glass", "orders-db")).not.toThrow();
});
