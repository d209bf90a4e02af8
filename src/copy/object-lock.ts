/**
 * Immutability: `objectLock: { mode, days | untilRetention: true }` on an S3 destination gives every
 * object of a snapshot written there (data, index, manifest) an Object Lock retention, so that neither a
 * mistake nor an intruder holding Haven's credentials can delete it before its date. The S3 backend sends
 * the headers (`ObjectLockMode`, `ObjectLockRetainUntilDate`) for every put given a `retainUntil`;
 * this module computes that date and checks at startup that the bucket can hold locks.
 *
 * The retain-until date of a snapshot's objects:
 * - `days: N`: N × 24 hours after the object is written (like a bucket's default retention).
 * - `untilRetention: true`: the end of the longest period the destination's retention policy keeps the
 *   snapshot for while backups run on schedule: for each period rule (`daily|weekly|monthly|yearly: N`),
 *   the start of the N-th local period after the one the snapshot was taken in (daily 7 at 2026-11-20
 *   02:00 → 2026-11-27 00:00 in the configured timezone; weekly periods are ISO weeks), and for `within: D`
 *   the snapshot's time + D; the latest of these wins. `last: N` has no time bound and adds nothing; a
 *   policy with only `last` cannot be used with untilRetention (CONFIG error). The date is at least one
 *   day after the write, so a copy made late (or a snapshot kept only by a guard rail) is still locked.
 *   Periods skipped by missed backups make retention reach further back than this date: such a snapshot
 *   outlives its lock and is then protected by prune's guard rails only.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { DateTime } from "luxon";
import type { HavenConfig, NamedDestination, RetentionPolicy, S3DestinationConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import { retentionOn } from "../prune/policy";
import { s3ClientConfig, s3Location } from "../storage/s3-client";
import { classifyS3Error, isNotImplemented } from "../storage/s3-errors";

export type ObjectLockSettings = NonNullable<S3DestinationConfig["objectLock"]>;

const DAY_MS = 86_400_000;

const LUXON_UNIT = { daily: "day", weekly: "week", monthly: "month", yearly: "year" } as const;
const LUXON_PLURAL = { daily: "days", weekly: "weeks", monthly: "months", yearly: "years" } as const;

/**
 * The destination's Object Lock settings, or undefined when it asks for none. Throws CONFIG unless
 * exactly one of `days` and `untilRetention: true` is given (a rule the schema does not express).
 */
export function objectLockOf(destination: NamedDestination): ObjectLockSettings | undefined {
  if (destination.type !== "s3" || destination.objectLock === undefined) return undefined;
  const lock = destination.objectLock;
  const byDays = lock.days !== undefined;
  const byRetention = lock.untilRetention === true;
  if (byDays === byRetention) {
    throw new HavenError(
      "CONFIG",
      `destinations.${destination.name}.objectLock needs exactly one of days or untilRetention: true`,
      {
        hint: `e.g. objectLock: { mode: ${lock.mode}, days: 30 } or objectLock: { mode: ${lock.mode}, untilRetention: true }`,
      },
    );
  }
  return lock;
}

/**
 * The end of the longest period `policy` keeps a snapshot taken at `createdAt` for (see the module
 * comment), in `timezone`; null when the policy has no time-bound rule.
 */
export function retentionEnd(createdAt: Date, policy: RetentionPolicy, timezone: string): Date | null {
  const local = DateTime.fromJSDate(createdAt, { zone: timezone });
  if (!local.isValid) return null;
  const ends: number[] = [];
  for (const rule of ["daily", "weekly", "monthly", "yearly"] as const) {
    const count = policy[rule] ?? 0;
    if (count > 0)
      ends.push(
        local
          .startOf(LUXON_UNIT[rule])
          .plus({ [LUXON_PLURAL[rule]]: count })
          .toMillis(),
      );
  }
  if ((policy.within ?? 0) > 0) ends.push(createdAt.getTime() + (policy.within as number));
  return ends.length === 0 ? null : new Date(Math.max(...ends));
}

export interface RetainUntilInput {
  /** When the snapshot was taken (its manifest's startedAt). */
  snapshotTime: Date;
  /** When its objects are written. */
  now: Date;
  /** The retention policy of the snapshot on this destination (`retentionOn`). */
  policy: RetentionPolicy;
  /** The config's timezone. */
  timezone: string;
}

/** The retain-until date for a snapshot's objects on `destination`; undefined when it asks for no lock. */
export function retainUntilFor(destination: NamedDestination, input: RetainUntilInput): Date | undefined {
  const lock = objectLockOf(destination);
  if (!lock) return undefined;
  const minimum = input.now.getTime() + DAY_MS;
  if (lock.days !== undefined) return new Date(input.now.getTime() + lock.days * DAY_MS);
  const end = retentionEnd(input.snapshotTime, input.policy, input.timezone);
  if (end === null) {
    throw new HavenError(
      "CONFIG",
      `destinations.${destination.name}.objectLock.untilRetention needs a retention rule with a time bound (daily, weekly, monthly, yearly or within); "last" alone has none`,
      {
        hint: `add such a rule to the retention policy, or use objectLock.days on destinations.${destination.name}`,
      },
    );
  }
  return new Date(Math.max(end.getTime(), minimum));
}

/**
 * The retain-until date for the objects of `target`'s snapshot taken at `snapshotTime`, written now to
 * the destination named `destination`; undefined when that destination asks for no lock. The backup
 * engine passes it as `retainUntil` to every put of a snapshot (payload objects and manifest).
 */
export function snapshotRetainUntil(
  config: HavenConfig,
  target: string,
  destination: string,
  snapshotTime: Date,
  now: Date = new Date(),
): Date | undefined {
  const dest = config.destinations[destination];
  const targetConfig = config.targets[target];
  if (!dest || !targetConfig) return undefined;
  return retainUntilFor(dest, {
    snapshotTime,
    now,
    policy: retentionOn(config, targetConfig, destination),
    timezone: config.timezone,
  });
}

export interface CheckObjectLockOptions {
  /** A ready client (tests observe and answer its requests); not destroyed. Default: the destination's own. */
  client?: S3Client;
}

/**
 * When `destination` asks for Object Lock, checks that its bucket has Object Lock enabled
 * (GetObjectLockConfiguration), so a misconfigured bucket fails at startup instead of at the first
 * backup (AWS refuses lock headers on such a bucket with InvalidRequest). Throws CONFIG (exit 2) when
 * the bucket or the service has no Object Lock, and the storage layer's error (CREDENTIALS, TRANSIENT,
 * ...) when the question cannot be asked. Does nothing for destinations without `objectLock`.
 */
export async function checkObjectLockEnabled(
  destination: NamedDestination,
  options: CheckObjectLockOptions = {},
): Promise<void> {
  if (destination.type !== "s3" || !objectLockOf(destination)) return;
  const where = `destination ${destination.name} (${s3Location(destination)})`;
  const key = `destinations.${destination.name}.objectLock`;
  // Loaded here, not at the top: the backup path imports this module for snapshotRetainUntil alone.
  const { GetObjectLockConfigurationCommand, S3Client } = await import("@aws-sdk/client-s3");
  const client = options.client ?? new S3Client(s3ClientConfig(destination));
  try {
    const out = await client.send(new GetObjectLockConfigurationCommand({ Bucket: destination.bucket }));
    if (out.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled") return;
    throw noLockError(where, destination, key);
  } catch (error) {
    if (error instanceof HavenError) throw error;
    const name = (error as { name?: unknown } | null)?.name;
    if (name === "ObjectLockConfigurationNotFoundError") throw noLockError(where, destination, key, error);
    if (isNotImplemented(error)) {
      throw new HavenError(
        "CONFIG",
        `${where} asks for Object Lock (${key}), but its S3 service does not implement it`,
        {
          hint: `use a service with S3 Object Lock (AWS S3, MinIO, Ceph RGW, Wasabi, Backblaze B2, ...) or remove ${key}`,
          cause: error,
        },
      );
    }
    throw classifyS3Error(error, {
      destination: destination.name,
      location: s3Location(destination),
      operation: "read the Object Lock configuration of the bucket",
    });
  } finally {
    if (!options.client) client.destroy();
  }
}

/**
 * `checkObjectLockEnabled` for every destination of the config, plus the rule only the whole config can
 * check: a destination with `untilRetention` needs a time-bound retention rule for every target that
 * writes there. Every problem is reported at once.
 */
export async function checkObjectLockDestinations(
  config: HavenConfig,
  options: { clientFor?: (destination: NamedDestination) => S3Client } = {},
): Promise<void> {
  const problems: HavenError[] = [];
  for (const destination of Object.values(config.destinations)) {
    const client = options.clientFor?.(destination);
    try {
      await checkObjectLockEnabled(destination, client ? { client } : {});
      if (objectLockOf(destination)?.untilRetention) problems.push(...untimedTargets(config, destination));
    } catch (error) {
      if (!(error instanceof HavenError)) throw error;
      problems.push(error);
    }
  }
  const [first] = problems;
  if (!first) return;
  if (problems.length === 1) throw first;
  throw new HavenError(
    problems.every((p) => p.code === "CONFIG") ? "CONFIG" : first.code,
    problems.map((p) => p.message).join("\n"),
    {
      hint: problems
        .map((p) => p.hint)
        .filter(Boolean)
        .join("\n"),
    },
  );
}

/** Targets writing to `destination` whose retention there has no time bound (only `last`). */
function untimedTargets(config: HavenConfig, destination: NamedDestination): HavenError[] {
  return Object.values(config.targets)
    .filter((target) => target.destinations.includes(destination.name))
    .filter(
      (target) => retentionEnd(new Date(0), retentionOn(config, target, destination.name), "UTC") === null,
    )
    .map(
      (target) =>
        new HavenError(
          "CONFIG",
          `destinations.${destination.name}.objectLock.untilRetention cannot date the objects of target ${target.name}: its retention there has no time-bound rule`,
          {
            hint: `give targets.${target.name}.retention (or destinations.${destination.name}.retention) a daily, weekly, monthly, yearly or within rule, or use objectLock.days`,
          },
        ),
    );
}

function noLockError(
  where: string,
  destination: { bucket: string },
  key: string,
  cause?: unknown,
): HavenError {
  return new HavenError(
    "CONFIG",
    `${where} asks for Object Lock (${key}), but bucket ${destination.bucket} does not have Object Lock enabled`,
    {
      hint: `enable Object Lock on the bucket (it needs versioning; e.g. aws s3api put-object-lock-configuration --bucket ${destination.bucket} --object-lock-configuration ObjectLockEnabled=Enabled), use a bucket created with Object Lock, or remove ${key}`,
      ...(cause === undefined ? {} : { cause }),
    },
  );
}
