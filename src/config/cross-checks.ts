/**
 * Rules that span sections, which a per-key schema cannot express: destination names must exist, every
 * target must end up with a destination, the timezone must be one the runtime knows, a monthly report
 * needs a mail server. Run on the raw data even when the schema found problems, so that every problem is
 * reported at once; shapes the schema rejects are skipped here.
 */
import { isAbsolute, relative, resolve, sep } from "node:path";
import { excludeMatcher } from "../targets/files/walk";
import type { IssueCollector } from "./issues";
import {
  DATABASE_URL_SCHEMES,
  hasScheme,
  isUrlTargetType,
  unsupportedUrlParameters,
  unsupportedUrlParametersMessage,
} from "./url-schemes";

export function checkCrossReferences(data: unknown, issues: IssueCollector): void {
  if (!isRecord(data)) return;
  const destinations = isRecord(data.destinations) ? Object.keys(data.destinations) : null;
  const defaults = isRecord(data.defaults) ? data.defaults : {};

  if (isRecord(data.destinations)) checkDestinationOverlap(data.destinations, issues);
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

  if (isRecord(data.targets)) checkVerifyInto(data.targets, defaults, issues);
  if (isRecord(data.targets) && isRecord(data.destinations)) {
    checkSharesHoldingTheirDestination(data.targets, data.destinations, defaults, issues);
  }
  if (isRecord(data.targets)) checkUrlParameters(data.targets, issues);

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

/**
 * A files target whose folder holds one of its own filesystem destinations (`path: /srv`, the NAS
 * destination at /srv/backups) would archive every earlier backup into each new one: each snapshot
 * larger than all before it together, until the disk is full. Refused unless `exclude` leaves the
 * destination out.
 */
function checkSharesHoldingTheirDestination(
  targets: Record<string, unknown>,
  destinations: Record<string, unknown>,
  defaults: Record<string, unknown>,
  issues: IssueCollector,
): void {
  for (const [name, target] of Object.entries(targets)) {
    if (!isRecord(target) || target.type !== "files" || typeof target.path !== "string") continue;
    const names = target.destinations ?? defaults.destinations;
    if (!Array.isArray(names)) continue;
    const share = resolve(target.path);
    const excludes = Array.isArray(target.exclude) ? target.exclude.filter((p) => typeof p === "string") : [];
    const isExcluded = excludeMatcher(excludes);
    for (const destinationName of names) {
      const destination = typeof destinationName === "string" ? destinations[destinationName] : undefined;
      if (!isRecord(destination) || destination.type !== "filesystem") continue;
      if (typeof destination.path !== "string" || destination.path === "") continue;
      const root = resolve(destination.path);
      const inside = relative(share, root);
      if (inside.startsWith("..") || isAbsolute(inside)) continue;
      const rel = inside.split(sep).join("/");
      if (rel !== "" && (isExcluded(rel) || isExcluded(`${rel}/`))) continue;
      issues.atPath(
        ["targets", name, "path"],
        rel === ""
          ? `it is the folder of its own destination "${destinationName}": every backup would hold all the ones before it. Give the destination a folder outside ${share}`
          : `it holds its own destination "${destinationName}" (${root}): every backup would hold all the ones before it. Add "${rel}" to targets.${name}.exclude, or give the destination a folder outside ${share}`,
      );
    }
  }
}

/**
 * A database url's query parameters that Haven would drop (the adapters refuse them too, for urls
 * from a urlFile or `restore --to`): reported here so `config validate` points at the line. The
 * message names the parameters only, never the url, which may hold a password.
 */
function checkUrlParameters(targets: Record<string, unknown>, issues: IssueCollector): void {
  for (const [name, target] of Object.entries(targets)) {
    if (!isRecord(target) || typeof target.type !== "string" || typeof target.url !== "string") continue;
    if (!isUrlTargetType(target.type)) continue;
    let url: URL;
    try {
      url = new URL(target.url);
    } catch {
      continue; // the adapter says so, without echoing the url
    }
    const unsupported = unsupportedUrlParameters(target.type, url);
    if (unsupported.length > 0) {
      issues.atPath(["targets", name, "url"], unsupportedUrlParametersMessage(target.type, unsupported));
    }
  }
}

/**
 * `verify.into` means a folder for files and SQLite targets and a server URL for PostgreSQL and
 * MySQL targets; anything else silently fell back to the temp dir or the target's own server (with
 * a relative folder, into the working directory of whichever worker ran the test).
 */
function checkVerifyInto(
  targets: Record<string, unknown>,
  defaults: Record<string, unknown>,
  issues: IssueCollector,
) {
  const fromDefaults = isRecord(defaults.verify) ? defaults.verify.into : undefined;
  for (const [name, target] of Object.entries(targets)) {
    if (!isRecord(target) || typeof target.type !== "string") continue;
    const own = isRecord(target.verify) ? target.verify.into : undefined;
    const into = own ?? fromDefaults;
    if (typeof into !== "string") continue;
    const problem = intoProblem(target.type, into);
    if (problem === undefined) continue;
    if (own !== undefined) issues.atPath(["targets", name, "verify", "into"], problem);
    else
      issues.atPath(
        ["defaults", "verify", "into"],
        `${problem}, for target ${name}: defaults.verify.into applies to every target, so set it as targets.<name>.verify.into on the targets that use it`,
      );
  }
}

function intoProblem(type: string, into: string): string | undefined {
  switch (type) {
    case "files":
    case "sqlite":
      return isAbsolute(into)
        ? undefined
        : `a ${type} target restores its tests into a folder: give an absolute path`;
    case "postgres":
    case "mysql":
      return hasScheme(type, /^[a-z]+:/i.exec(into)?.[0] ?? "") && into.includes("//")
        ? undefined
        : `a ${type} target restores its tests on a server: give a ${DATABASE_URL_SCHEMES[type][0]}// URL`;
    case "redis":
      return "a redis target's restore tests run a private local redis-server: verify.into has no effect, remove it";
    default:
      return undefined;
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

/**
 * Two destinations must not share their keys. The same bucket (or directory) and prefix under two
 * names is one copy, not two, and each name's retention would prune the other's snapshots. A prefix
 * that extends another without a "/" between (`""` and `"site-b-"`) puts this destination's target
 * folders among the other's, which lists them as targets of its own: its `prune --orphans` could
 * delete them. A nested folder (`""` and `"site-b/"`) is one level deeper than any snapshot key and
 * stays apart.
 */
function checkDestinationOverlap(destinations: Record<string, unknown>, issues: IssueCollector): void {
  const stores = Object.entries(destinations).flatMap(([name, value]) => {
    const space = storeSpace(value);
    return space === null ? [] : [{ name, ...space }];
  });
  stores.forEach((store, index) => {
    for (const other of stores.slice(0, index)) {
      const problem = sharedKeys(store, other);
      if (problem) {
        issues.atPath(["destinations", store.name], problem, "key");
        return;
      }
    }
  });
}

function sharedKeys(store: StoreSpace, other: StoreSpace): string | null {
  if (store.key === other.key) {
    return `it is the same ${store.what} as destination "${other.name}": one store under two names is one copy, not two, and each name's retention would prune the other's snapshots. Give each its own bucket, path or prefix`;
  }
  const [outer, inner] = store.key.startsWith(other.key) ? [other, store] : [store, other];
  if (!inner.key.startsWith(outer.key) || inner.key.slice(outer.key.length).includes("/")) return null;
  return `the prefixes of destinations "${outer.name}" and "${inner.name}" (${outer.what}; ${inner.what}) let "${outer.name}" list the snapshots of "${inner.name}" as targets of its own, and its prune --orphans could delete them. End the longer prefix with "/" or give each its own bucket or path`;
}

interface StoreSpace {
  name: string;
  key: string;
  what: string;
}

/** Where a destination's keys live, as one string that a nested destination's would begin with. */
function storeSpace(value: unknown): Omit<StoreSpace, "name"> | null {
  if (!isRecord(value)) return null;
  const prefix = typeof value.prefix === "string" ? value.prefix : "";
  if (value.type === "s3" && typeof value.bucket === "string") {
    const endpoint = typeof value.endpoint === "string" ? endpointHost(value.endpoint) : "aws";
    if (endpoint === null) return null;
    return {
      key: `s3|${endpoint}|${value.bucket}|${prefix}`,
      what: `bucket ${value.bucket} and prefix "${prefix}"`,
    };
  }
  if (value.type === "filesystem" && typeof value.path === "string" && value.path !== "") {
    const root = resolve(value.path);
    return {
      key: `fs|${root.endsWith("/") ? root : `${root}/`}${prefix}`,
      what: `path ${root} and prefix "${prefix}"`,
    };
  }
  return null;
}

function endpointHost(endpoint: string): string | null {
  try {
    return new URL(endpoint).host.toLowerCase();
  } catch {
    return null; // the schema reports a malformed endpoint
  }
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
