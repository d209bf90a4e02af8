/** Operator identity, roles and guarded restores (see identity.ts, roles.ts, approvals.ts, guard.ts). */
export {
  ROLES,
  PERMISSIONS,
  permissionsOf,
  requiredRole,
  roleAllows,
  roleRank,
  type Permission,
  type Role,
} from "./roles";
export {
  describeOperator,
  operatorActor,
  resolveOperator,
  type IdentitySource,
  type Operator,
  type ResolveOperatorInput,
} from "./identity";
export { authorize } from "./authorize";
export { generateToken, hashToken, operatorConfigSnippet, readPresentedToken, tokenMatches } from "./token";
export {
  DEFAULT_REQUEST_TTL_MS,
  MIN_BREAK_GLASS_REASON,
  RestoreApprovals,
  type BreakGlassEvent,
  type BreakGlassInput,
  type RequestState,
  type RestoreApprovalsOptions,
  type RestoreExpectation,
  type RestoreRequest,
  type RestoreRequestInput,
} from "./approvals";
export { decideRestoreGuard, type RestoreGuard, type RestoreGuardInput } from "./guard";
export { REQUESTS_PREFIX, assertRequestId, termsOfRequest, type RestoreTerms } from "./request-store";
export { approvedCommand, describeTerms } from "./restore-terms";
