/**
 * Operator roles and what each may do. Roles are ordered: each one may do everything the roles below
 * it may.
 *
 * | role     | may                                                                          |
 * |----------|------------------------------------------------------------------------------|
 * | viewer   | list snapshots, read status, reports and the audit trail                      |
 * | operator | + back up now, verify, send the monthly report, restore to another place,      |
 * |          |   request a restore in place                                                  |
 * | admin    | + restore in place, approve restore requests, prune, break glass              |
 *
 * An operator whose in-place restore request was approved by an admin may run that one restore
 * (see approvals.ts): the approval is the admin's decision, the requester only carries it out.
 */
export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** The least role each permission needs. */
export const PERMISSIONS = {
  list: "viewer",
  status: "viewer",
  read: "viewer",
  backup: "operator",
  verify: "operator",
  "send-report": "operator",
  "restore-elsewhere": "operator",
  "request-restore": "operator",
  "restore-in-place": "admin",
  approve: "admin",
  prune: "admin",
  "break-glass": "admin",
} as const satisfies Record<string, Role>;

export type Permission = keyof typeof PERMISSIONS;

export function roleRank(role: Role): number {
  return ROLES.indexOf(role);
}

/** The least role that holds `permission`. */
export function requiredRole(permission: Permission): Role {
  return PERMISSIONS[permission];
}

export function roleAllows(role: Role, permission: Permission): boolean {
  return roleRank(role) >= roleRank(requiredRole(permission));
}

/** The permissions a role holds, in table order (for `haven whoami`-style output and docs). */
export function permissionsOf(role: Role): Permission[] {
  return (Object.keys(PERMISSIONS) as Permission[]).filter((permission) => roleAllows(role, permission));
}
