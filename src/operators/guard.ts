/**
 * The guard in front of every restore, as a pure decision: which permission the restore needs and
 * what must happen before it runs. The restore command (or the worker executing a queued restore)
 * calls it first, then acts on the answer:
 *
 * | restore                         | needs                                                      |
 * |---------------------------------|------------------------------------------------------------|
 * | to another place                | operator role                                              |
 * | in place, target not protected  | admin role, and `--yes`                                    |
 * | in place, `protected: true`     | `--yes`, and an approved request (`consumeApproval`, run by |
 * |                                 | its requester or an admin) or a break-glass by an admin    |
 */
import { HavenError } from "../lib/errors";
import { authorize } from "./authorize";
import type { Operator } from "./identity";

export interface RestoreGuardInput {
  target: { name: string; protected: boolean };
  /** True when restoring over the target's original location: no `--to`, or a `--to` naming it
   * (targets/in-place.ts). */
  inPlace: boolean;
  /** `--yes`, or the operator typed the target's name at the prompt. */
  confirmed: boolean;
  operator: Operator;
  /** `--request-id`: run under this approved request. */
  requestId?: string;
  /** `--break-glass --reason`: bypass approval. */
  breakGlassReason?: string;
}

export type RestoreGuard =
  /** Run it. */
  | { kind: "allowed" }
  /** Call `RestoreApprovals.consumeApproval(requestId, ...)` first; run if it returns. */
  | { kind: "approved-request"; requestId: string }
  /** Call `RestoreApprovals.breakGlass(...)` first, alert with its event, then run. */
  | { kind: "break-glass"; reason: string };

/** Decides per the table above; throws HavenError REFUSED (or USAGE) with the way forward otherwise. */
export function decideRestoreGuard(input: RestoreGuardInput): RestoreGuard {
  const { target, operator } = input;
  if (input.requestId !== undefined && input.breakGlassReason !== undefined) {
    throw new HavenError("USAGE", "give --request-id or --break-glass, not both");
  }
  if (!input.inPlace) {
    authorize(operator, "restore-elsewhere", target.name);
    return { kind: "allowed" };
  }
  if (!input.confirmed) {
    throw new HavenError(
      "REFUSED",
      `restoring over the original location of ${target.name} needs confirmation`,
      {
        hint: "pass --yes to confirm, or --to to restore somewhere else",
      },
    );
  }
  if (input.breakGlassReason !== undefined) {
    authorize(operator, "break-glass", target.name);
    return { kind: "break-glass", reason: input.breakGlassReason };
  }
  if (input.requestId !== undefined) {
    // consumeApproval checks that the executor is the requester or an admin.
    return { kind: "approved-request", requestId: input.requestId };
  }
  if (target.protected) {
    throw new HavenError(
      "REFUSED",
      `${target.name} is protected: restoring over its original location needs a second operator's approval`,
      {
        hint:
          `request it with \`haven restore ${target.name} --snapshot ID --request\` (and the --to, --include and --force ` +
          "this restore will use: the approval is for those only), have another admin run " +
          "`haven approve REQUEST-ID`, then run the restore with `--request-id REQUEST-ID`; in an emergency an admin " +
          'may pass `--break-glass --reason "..."` (audited, and alerted at once); or restore elsewhere with --to',
      },
    );
  }
  authorize(operator, "restore-in-place", target.name);
  return { kind: "allowed" };
}
