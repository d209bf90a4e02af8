/**
 * Alert events: what can go wrong, how bad it is, and what the operator should do about it.
 *
 * Glossary
 * - event: one kind of bad condition about one target or destination (an RPO breach of orders-db).
 * - condition: an event that holds now, with the incident key that identifies it (see `incidentKey`).
 * - incident: the life of a condition in the alert state (Redis), from opened to resolved; one incident
 *   per key, whatever the number of times the condition is raised while it is open.
 */

export const ALERT_EVENT_TYPES = [
  "backup-failed",
  "backup-partial",
  "rpo-breached",
  "missed-schedule",
  "missed-verification",
  "verification-failed",
  "rto-breached",
  "rto-at-risk",
  "storage-unreachable",
  "break-glass",
  "prune-refused",
  "copy-behind",
  "report-failed",
] as const;

export type AlertEventType = (typeof ALERT_EVENT_TYPES)[number];

export type Severity = "critical" | "warning";

export interface AlertEvent {
  type: AlertEventType;
  /** The target concerned (for an event about a destination, the target whose snapshots it was about, if any). */
  target?: string;
  /** The destination concerned (required by an event about a destination; optional elsewhere). */
  destination?: string;
  /** When the condition began (ISO 8601): the breach time, the failed run's finish, ... */
  since: string;
  /** What exactly happened, in one or two sentences with the numbers. */
  summary: string;
  /** Extra facts shown as a list (snapshot id, ages, failed checks). Never a secret. */
  details?: Record<string, string | number>;
}

/** A condition that holds now: the event and the key of its incident. */
export interface Condition {
  key: string;
  event: AlertEvent;
}

interface EventInfo {
  title: string;
  severity: Severity;
  /** What to do, for the operator reading the alert. */
  hint: (event: AlertEvent) => string;
  /**
   * "destination" for an event about a destination even when it names a target too (a copy's
   * storage-unreachable names the target whose snapshots it could not list): its subject, its
   * incident key and its removal from the config follow the destination. Default: its target.
   */
  about?: "destination";
}

/** Whether an event of this type is about its destination (EventInfo.about). */
export function aboutDestination(type: AlertEventType): boolean {
  return EVENT_INFO[type].about === "destination";
}

/**
 * What an event is about, as the operator reads it: its target, or its destination when it names
 * none or is about its destination (EventInfo.about).
 */
export function eventSubject(e: Pick<AlertEvent, "type" | "target" | "destination">): string {
  if (aboutDestination(e.type) && e.destination !== undefined) return e.destination;
  return e.target ?? e.destination ?? "haven";
}
const subject = eventSubject;

export const EVENT_INFO: Record<AlertEventType, EventInfo> = {
  "backup-failed": {
    title: "Backup failed",
    severity: "critical",
    hint: (e) =>
      `read the error and the worker log, fix the cause, then run \`haven backup ${subject(e)}\`; the RPO keeps counting from the last good snapshot meanwhile.`,
  },
  "backup-partial": {
    title: "Backup partial",
    severity: "warning",
    hint: (e) =>
      `files changed or vanished while they were read; see the warnings with \`haven snapshots ${subject(e)} -o json\`, then exclude volatile paths or back up from a filesystem snapshot.`,
  },
  "rpo-breached": {
    title: "RPO breached",
    severity: "critical",
    hint: (e) =>
      `check that \`haven serve\` and the workers are running and that the backups of ${subject(e)} succeed (worker log, \`haven snapshots ${subject(e)}\`); take one now with \`haven backup ${subject(e)}\`.`,
  },
  "missed-schedule": {
    title: "Scheduled backup missed",
    severity: "warning",
    hint: (e) =>
      `a scheduled backup of ${subject(e)} did not run: check that \`haven serve\` (which fires schedules) and the workers are running; \`haven plan\` shows the schedules; \`haven backup ${subject(e)}\` runs one now.`,
  },
  "missed-verification": {
    title: "Scheduled verification missed",
    severity: "warning",
    hint: (e) =>
      `the verify schedule of ${subject(e)} fired but no verification record followed, so the measured restore time goes stale and damaged snapshots go unnoticed: check that \`haven serve\` and the workers are running and the worker log for verify jobs; \`haven verify ${subject(e)}\` runs one now.`,
  },
  "verification-failed": {
    title: "Verification failed",
    severity: "critical",
    hint: (e) =>
      `the snapshot may not be restorable: read the failed checks in its verification record, take a new backup (\`haven backup ${subject(e)}\`) and verify it (\`haven verify ${subject(e)}\`).`,
  },
  "rto-breached": {
    title: "RTO breached",
    severity: "critical",
    hint: (e) =>
      `a restore of ${subject(e)} takes longer than its RTO or failed: fix the restore path (faster storage, a verification server, a smaller target) and run \`haven verify ${subject(e)} --kind restore\`, or revise the RTO with the service owner.`,
  },
  "rto-at-risk": {
    title: "RTO at risk",
    severity: "warning",
    hint: (e) =>
      `restores of ${subject(e)} are forecast to reach the RTO as the data grows: plan now (faster restore path, split the target) or revise the RTO with the service owner.`,
  },
  "break-glass": {
    title: "Break-glass restore",
    severity: "critical",
    hint: (e) =>
      `an admin bypassed the approval of a protected restore of ${subject(e)}; confirm with them that it was intended, and review \`haven audit\`.`,
  },
  "prune-refused": {
    title: "Prune refused",
    severity: "critical",
    hint: (e) =>
      `retention would have removed more of ${subject(e)} than its guard rail allows, so nothing was removed: check the clock and the retention policy with \`haven prune ${subject(e)} --dry-run\`; if the removals are right, raise maxRemoveShare for this target and prune again.`,
  },
  "copy-behind": {
    title: "Off-site copy behind",
    severity: "critical",
    hint: (e) =>
      `snapshots of ${subject(e)} are not reaching ${e.destination ?? "another destination"} and the newest copy there is older than the RPO: check that destination (network, credentials, space); the hourly maintenance job retries, and \`haven snapshots ${subject(e)}\` shows where each snapshot exists.`,
  },
  "report-failed": {
    title: "Monthly report not delivered",
    severity: "warning",
    hint: () =>
      "the monthly restore-test report could not be sent after its retries: check the SMTP settings under alerts.email and the worker log, then send it with `haven report --month YYYY-MM --send`; its JSON evidence is already stored under _reports/ when the data could be read.",
  },
  "storage-unreachable": {
    title: "Storage unreachable",
    severity: "critical",
    about: "destination",
    hint: (e) =>
      `check the network, credentials and free space of destination ${subject(e)}${e.target === undefined ? "" : ` (and that they may list and write ${e.target}'s snapshots there)`}; \`haven snapshots\` shows whether it answers again.`,
  },
};

/** `rpo-breached:orders-db`, `storage-unreachable:primary`: one incident per event type and subject. */
export function incidentKey(event: Pick<AlertEvent, "type" | "target" | "destination">): string {
  // About a destination for one target's snapshots (a copy): both, so it never meets the
  // destination's own incident nor that of a target of the same name.
  if (aboutDestination(event.type) && event.target !== undefined && event.destination !== undefined)
    return `${event.type}:${event.destination}/${event.target}`;
  return `${event.type}:${event.target ?? event.destination ?? "-"}`;
}

export function condition(event: AlertEvent): Condition {
  return { key: incidentKey(event), event };
}
