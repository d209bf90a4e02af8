/**
 * Who is acting: the operator identity behind a CLI command or a queued job.
 *
 * - Installs with `operators:` in the config: the identity comes from a token (HAVEN_TOKEN or
 *   HAVEN_TOKEN_FILE) whose sha256 matches an operator's `tokenSha256`, or from `--as NAME` for an
 *   operator configured without a token (a name-only operator: trusted on the word of whoever can run
 *   the CLI on this host; give every operator a token where that is not enough). An operator that has
 *   a token must present it; `--as` alone does not do.
 * - Installs without `operators:` (single-operator installs): the local OS user acts as admin, as
 *   anyone who can read the config and the bucket credentials could anyway. `--as NAME` then only
 *   names the person in the audit trail; it proves nothing.
 */
import { hostname } from "node:os";
import type { HavenConfig } from "../config/types";
import { osUserName } from "../audit/actor";
import type { AuditActor } from "../audit/record";
import { HavenError } from "../lib/errors";
import type { Secret } from "../lib/secret";
import type { Role } from "./roles";
import { tokenMatches } from "./token";

/** How an identity was established. */
export type IdentitySource =
  /** a token matched the operator's tokenSha256 */
  | "token"
  /** `--as` named an operator configured without a token */
  | "name"
  /** no operators are configured: the OS user (or the `--as` name) acting as admin */
  | "local";

export interface Operator {
  /** The identity compared by approvals: an operator name from the config, or the OS user (or --as) on installs without operators. */
  name: string;
  role: Role;
  source: IdentitySource;
  /** The OS user running this process. */
  osUser: string;
  host: string;
}

export interface ResolveOperatorInput {
  /** The presented token (readPresentedToken). */
  token?: Secret;
  /** `--as NAME`. */
  as?: string;
  /** Defaults: this process's OS user and host. */
  osUser?: string;
  host?: string;
}

/**
 * The operator acting, per the module comment. Throws HavenError CREDENTIALS (exit 12) when a token
 * matches no operator, when `--as` names an unknown operator or one that needs its token, or when
 * operators are configured and nothing says who is acting.
 */
export function resolveOperator(
  config: Pick<HavenConfig, "operators">,
  input: ResolveOperatorInput = {},
): Operator {
  const osUser = input.osUser ?? osUserName();
  const host = input.host ?? hostname();
  const operators = Object.entries(config.operators ?? {});
  if (operators.length === 0) {
    return { name: input.as ?? osUser, role: "admin", source: "local", osUser, host };
  }

  if (input.token !== undefined) {
    // Compare with every operator, not stopping at the first match, so timing tells nothing either.
    let matched: string | undefined;
    for (const [name, operator] of operators) {
      if (operator.tokenSha256 !== undefined && tokenMatches(input.token, operator.tokenSha256)) {
        matched ??= name;
      }
    }
    if (matched === undefined) {
      throw new HavenError("CREDENTIALS", "the token presented matches no operator in the config", {
        hint: "check HAVEN_TOKEN / HAVEN_TOKEN_FILE; an admin can make a new one with `haven token new NAME`, which prints the token and its operators.<name>.tokenSha256 line",
      });
    }
    if (input.as !== undefined && input.as !== matched) {
      throw new HavenError("CREDENTIALS", `the token presented is not the token of operator ${input.as}`, {
        hint: "drop --as (the token says who you are), or present the token of that operator",
      });
    }
    const role = config.operators?.[matched]?.role as Role;
    return { name: matched, role, source: "token", osUser, host };
  }

  if (input.as !== undefined) {
    const operator = config.operators?.[input.as];
    if (operator === undefined) {
      throw new HavenError("CREDENTIALS", `no operator named ${input.as} in the config`, {
        hint: `configured operators: ${operators.map(([name]) => name).join(", ")}`,
      });
    }
    if (operator.tokenSha256 !== undefined) {
      throw new HavenError("CREDENTIALS", `operator ${input.as} must present a token`, {
        hint: "set HAVEN_TOKEN_FILE to a file holding your token (or HAVEN_TOKEN to the token itself)",
      });
    }
    return { name: input.as, role: operator.role, source: "name", osUser, host };
  }

  throw new HavenError("CREDENTIALS", "operators are configured, and nothing says which one is acting", {
    hint: "set HAVEN_TOKEN_FILE to a file holding your token (or HAVEN_TOKEN to the token itself), or pass --as NAME for an operator configured without a token",
  });
}

/**
 * The operator as an audit actor. The identity is left out on installs without operators unless
 * `--as` gave a name other than the OS user's (the OS user is recorded anyway).
 */
export function operatorActor(operator: Operator): AuditActor {
  const named = operator.source !== "local" || operator.name !== operator.osUser;
  return named
    ? { user: operator.osUser, identity: operator.name, host: operator.host }
    : { user: operator.osUser, host: operator.host };
}

/** "alice (admin)", for messages. */
export function describeOperator(operator: Operator): string {
  return `${operator.name} (${operator.role})`;
}
