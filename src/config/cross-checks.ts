/**
 * Rules that span sections, which a per-key schema cannot express: destination names must exist, every
 * target must end up with a destination, the timezone must be one the runtime knows, a monthly report
 * needs a mail server. Run on the raw data even when the schema found problems, so that every problem is
 * reported at once; shapes the schema rejects are skipped here.
 */
import type { IssueCollector } from "./issues";

export function checkCrossReferences(data: unknown, issues: IssueCollector): void {
  if (!isRecord(data)) return;
  const destinations = isRecord(data.destinations) ? Object.keys(data.destinations) : null;
  const defaults = isRecord(data.defaults) ? data.defaults : {};

  if (destinations) {
    checkDestinationNames(defaults.destinations, ["defaults", "destinations"], destinations, issues);
    if (isRecord(data.targets)) {
      for (const [name, target] of Object.entries(data.targets)) {
        if (!isRecord(target)) continue;
        checkDestinationNames(target.destinations, ["targets", name, "destinations"], destinations, issues);
        if (target.destinations === undefined && defaults.destinations === undefined) {
          issues.atPath(
            ["targets", name, "destinations"],
            "no destination: set destinations here, or defaults.destinations for every target",
          );
        }
      }
    }
  }

  if (typeof data.timezone === "string" && !isKnownTimezone(data.timezone)) {
    issues.atPath(
      ["timezone"],
      `unknown timezone "${data.timezone}": use an IANA name such as UTC or Europe/Paris`,
    );
  }

  const reports = isRecord(data.reports) ? data.reports : {};
  const alerts = isRecord(data.alerts) ? data.alerts : {};
  if (reports.monthly !== undefined && alerts.email === undefined) {
    issues.atPath(
      ["reports", "monthly"],
      "monthly reports are sent by email: configure alerts.email (its SMTP server)",
    );
  }
}

function checkDestinationNames(
  value: unknown,
  path: Array<string | number>,
  known: readonly string[],
  issues: IssueCollector,
): void {
  if (!Array.isArray(value)) return;
  value.forEach((name, index) => {
    if (typeof name === "string" && !known.includes(name)) {
      const choices = known.length > 0 ? known.join(", ") : "none are defined";
      issues.atPath([...path, index], `unknown destination "${name}" (destinations: ${choices})`);
    }
  });
}

function isKnownTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
