import { hostname, userInfo } from "node:os";
import type { AuditActor } from "./record";

/** The OS user running this process; falls back to $USER, then the uid, where there is no passwd entry (containers). */
export function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? `uid:${process.getuid?.() ?? "unknown"}`;
  }
}

/** The actor of this process: its OS user and host, and the operator identity when one was established. */
export function localActor(identity?: string): AuditActor {
  return identity === undefined
    ? { user: osUserName(), host: hostname() }
    : { user: osUserName(), identity, host: hostname() };
}
