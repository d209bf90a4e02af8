import { HavenError } from "../lib/errors";
import { describeOperator, type Operator } from "./identity";
import { requiredRole, roleAllows, type Permission } from "./roles";

/** What each permission is, in words, for refusals. */
const DOING: Record<Permission, string> = {
  list: "list snapshots",
  status: "read the status",
  read: "read the audit trail and reports",
  backup: "start a backup",
  verify: "verify snapshots",
  "send-report": "store and send the monthly report",
  "restore-elsewhere": "restore to another place",
  "request-restore": "request a restore in place",
  "restore-in-place": "restore over the original location",
  approve: "approve restore requests",
  prune: "prune snapshots",
  "break-glass": "bypass restore approval (break glass)",
};

/**
 * Returns when `operator`'s role holds `permission`; throws HavenError REFUSED otherwise, naming the
 * role needed. `target` only makes the message precise.
 */
export function authorize(operator: Operator, permission: Permission, target?: string): void {
  if (roleAllows(operator.role, permission)) return;
  const needed = requiredRole(permission);
  const what = `${DOING[permission]}${target ? ` (${target})` : ""}`;
  throw new HavenError("REFUSED", `operator ${describeOperator(operator)} may not ${what}`, {
    hint: `that needs the ${needed} role or higher: ask an ${needed === "admin" ? "admin" : "operator or admin"} to do it, or an admin to change operators.${operator.name}.role in the config`,
  });
}
