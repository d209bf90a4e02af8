/**
 * What an alert says, rendered once per channel format: what happened, to which target, since when,
 * and what to do. Every renderer takes the same `Notice`.
 */
import { formatDuration } from "../lib/duration";
import { EVENT_INFO, eventSubject, type AlertEvent, type Severity } from "./events";

/**
 * - opened: the condition is new.
 * - reminder: still open after `alerts.repeat`.
 * - still-open: re-announced once after the alert state was lost (Redis flushed or replaced), so that
 *   the operator knows it is not new.
 * - resolved: the condition cleared.
 */
export type NoticeKind = "opened" | "reminder" | "still-open" | "resolved";

export interface Notice {
  kind: NoticeKind;
  /** The incident key (`rpo-breached:orders-db`). */
  key: string;
  /** The event as last raised. */
  event: AlertEvent;
  /** When the condition began. */
  since: Date;
  /** When the incident was opened in the alert state. */
  openedAt: Date;
  /** When this notice is sent. */
  at: Date;
  /** Why a resolved incident was closed, when not because its condition cleared (a target removed). */
  resolvedBecause?: string;
}

export interface RenderedMessage {
  subject: string;
  /** Plain text, several lines. */
  text: string;
}

const KIND_PREFIX: Record<NoticeKind, string> = {
  opened: "",
  reminder: "Still open: ",
  "still-open": "Still open: ",
  resolved: "Resolved: ",
};

export function severityOf(notice: Notice): Severity {
  return EVENT_INFO[notice.event.type].severity;
}

export function subjectOf(notice: Notice): string {
  const info = EVENT_INFO[notice.event.type];
  const about = eventSubject(notice.event);
  return `[haven] ${KIND_PREFIX[notice.kind]}${info.title}: ${about}`;
}

/** "since 2026-11-23 04:00 UTC (6h ago)" */
export function sinceLine(notice: Notice): string {
  return `${formatUtc(notice.since)} (${formatDuration(Math.max(0, notice.at.getTime() - notice.since.getTime()))} ago)`;
}

/** The opening sentence, which says what kind of notice this is. */
export function leadOf(notice: Notice): string {
  const info = EVENT_INFO[notice.event.type];
  switch (notice.kind) {
    case "opened":
      return `${info.title}. ${notice.event.summary}`;
    case "reminder":
      return `${info.title}, still open since ${formatUtc(notice.since)}. ${notice.event.summary}`;
    case "still-open":
      return `${info.title}, still open since ${formatUtc(notice.since)} (announced again: the alert state was rebuilt from the destination). ${notice.event.summary}`;
    case "resolved":
      return `${info.title} is resolved after ${formatDuration(Math.max(0, notice.at.getTime() - notice.since.getTime()))}: ${notice.resolvedBecause ?? "the condition no longer holds"}.`;
  }
}

export function hintOf(notice: Notice): string {
  return EVENT_INFO[notice.event.type].hint(notice.event);
}

export function renderText(notice: Notice): RenderedMessage {
  const event = notice.event;
  const lines = [leadOf(notice), ""];
  if (event.target) lines.push(`Target: ${event.target}`);
  if (event.destination) lines.push(`Destination: ${event.destination}`);
  lines.push(`Since: ${sinceLine(notice)}`);
  if (notice.kind === "resolved") lines.push(`Resolved: ${formatUtc(notice.at)}`);
  lines.push(`Severity: ${severityOf(notice)}`);
  for (const [name, value] of Object.entries(event.details ?? {}))
    lines.push(`${capitalise(name)}: ${value}`);
  if (notice.kind !== "resolved") lines.push("", `What to do: ${hintOf(notice)}`);
  lines.push("", `Incident ${notice.key}, opened ${formatUtc(notice.openedAt)}.`);
  return { subject: subjectOf(notice), text: lines.join("\n") };
}

/** The body of a `format: json` webhook: stable field names for scripts and incident tools. */
export function renderJson(notice: Notice): Record<string, unknown> {
  const { subject, text } = renderText(notice);
  return {
    source: "haven",
    kind: notice.kind,
    incident: notice.key,
    type: notice.event.type,
    severity: severityOf(notice),
    target: notice.event.target ?? null,
    destination: notice.event.destination ?? null,
    since: notice.since.toISOString(),
    openedAt: notice.openedAt.toISOString(),
    at: notice.at.toISOString(),
    summary: notice.event.summary,
    ...(notice.resolvedBecause ? { resolvedBecause: notice.resolvedBecause } : {}),
    details: notice.event.details ?? {},
    hint: notice.kind === "resolved" ? null : hintOf(notice),
    subject,
    text,
  };
}

/** A Slack incoming-webhook payload: `text` is the notification fallback, `blocks` the message. */
export function renderSlack(notice: Notice): { text: string; blocks: unknown[] } {
  const subject = subjectOf(notice);
  const icon =
    notice.kind === "resolved"
      ? ":white_check_mark:"
      : severityOf(notice) === "critical"
        ? ":rotating_light:"
        : ":warning:";
  const fields = [
    ...(notice.event.target ? [field("Target", notice.event.target)] : []),
    ...(notice.event.destination ? [field("Destination", notice.event.destination)] : []),
    field("Since", sinceLine(notice)),
    field("Severity", severityOf(notice)),
    ...Object.entries(notice.event.details ?? {}).map(([name, value]) =>
      field(capitalise(name), String(value)),
    ),
  ].slice(0, 10); // Slack allows at most 10 fields per section.
  const blocks: unknown[] = [
    { type: "header", text: { type: "plain_text", text: truncate(subject, 150), emoji: true } },
    {
      type: "section",
      text: { type: "mrkdwn", text: truncate(`${icon} ${escapeSlack(leadOf(notice))}`, 3000) },
    },
    { type: "section", fields },
  ];
  if (notice.kind !== "resolved") {
    blocks.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: truncate(`*What to do:* ${escapeSlack(hintOf(notice))}`, 3000) }],
    });
  }
  return { text: `${subject}: ${notice.event.summary}`, blocks };
}

function field(name: string, value: string): { type: "mrkdwn"; text: string } {
  return { type: "mrkdwn", text: truncate(`*${escapeSlack(name)}*\n${escapeSlack(value)}`, 2000) };
}

/** Slack mrkdwn treats &, < and > as control characters. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatUtc(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
