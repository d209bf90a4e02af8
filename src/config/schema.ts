/**
 * The one schema of haven.yaml (the contract in DESIGN.md). Defaults are documented next to each key.
 * Durations become milliseconds and secrets become `Secret` at parse time, so the rest of Haven only
 * ever sees domain types. `haven config schema` prints the JSON Schema of the *input* side of this.
 *
 * Secret keys (`password`, `secretAccessKey`, ...) each have a `<key>File` twin: the loader reads that
 * file and fills the secret, so a secret never has to stand in the YAML itself.
 */
import { CronExpressionParser } from "cron-parser";
import { validate as validateCron } from "node-cron";
import { z } from "zod";
import { parseRecipient } from "../crypto/keys";
import { parseDuration } from "../lib/duration";
import { Secret } from "../lib/secret";

export const duration = () =>
  z
    .string()
    .refine((s) => parseDuration(s) !== null, { message: "not a duration: use e.g. 90s, 15m, 26h, 7d" })
    .transform((s) => parseDuration(s) as number);

/**
 * node-cron validates the form; cron-parser must read it too, because it is what BullMQ schedules
 * with and what the RPO and the report compute firings with: node-cron accepts patterns cron-parser
 * refuses (a day listed twice: "0 2 * * 0,7"), and those failed only later, in serve or the watchdog.
 */
export const cron = () =>
  z.string().superRefine((s, ctx) => {
    const problem = cronProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

function cronProblem(pattern: string): string | undefined {
  if (!validateCron(pattern)) return 'not a valid cron expression (5 or 6 fields, e.g. "0 2 * * *")';
  try {
    CronExpressionParser.parse(pattern);
    return undefined;
  } catch (error) {
    return `not a cron expression the scheduler can use: ${error instanceof Error ? error.message : String(error)} (list each value once; Sunday is 0)`;
  }
}

/**
 * An age recipient, checked as the backup will (Bech32 checksum, key length), not only by its look.
 * The regex stays for the JSON Schema editors get (`pattern`); zod runs the refinement even when it
 * failed, hence the second test.
 */
const AGE_RECIPIENT = /^age1[0-9a-z]+$/;
const recipient = () =>
  z
    .string()
    .regex(AGE_RECIPIENT, "not an age X25519 recipient (age1...)")
    .superRefine((s, ctx) => {
      if (!AGE_RECIPIENT.test(s)) return;
      try {
        parseRecipient(s);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
      }
    });

/** A secret in clear text in the YAML (usually from ${VAR}); prefer the `<key>File` twin. */
const secret = () =>
  z
    .string()
    .min(1)
    .transform((s) => new Secret(s));
const secretFile = () =>
  z.string().min(1).describe("path of a file holding the secret (trailing newline ignored)");

/**
 * The keys that hold secrets; where the schema declares a `<key>File` twin next to one, the loader reads
 * it (`redis`/`redisFile` included: a Redis URL may carry a password). Used by the loader and by log redaction.
 */
export const SECRET_KEYS = [
  "password",
  "secretAccessKey",
  "sessionToken",
  "url",
  "token",
  "identity",
  "redis",
] as const;

/** What a target may be called: its name is a folder of every destination. */
export const TARGET_NAME = /^[a-z0-9][a-z0-9._-]*$/;
export const TARGET_NAME_RULE = "target names: lowercase letters, digits, . _ -";

export type ScheduledTier = "daily" | "weekly" | "monthly";
export type Tier = ScheduledTier | "manual";

const schedule = z
  .strictObject({ daily: cron().optional(), weekly: cron().optional(), monthly: cron().optional() })
  .describe("cron expression per tier, in the top-level timezone");

const retention = z.strictObject({
  last: z.number().int().min(0).optional().describe("keep the newest N snapshots"),
  daily: z.number().int().min(0).optional().describe("keep the newest snapshot of each of the last N days"),
  weekly: z.number().int().min(0).optional(),
  monthly: z.number().int().min(0).optional(),
  yearly: z.number().int().min(0).optional(),
  within: duration().optional().describe("keep everything newer than this"),
});
export type RetentionPolicy = z.infer<typeof retention>;

/** Guard rail of prune runs (src/prune): a run that would remove more than this share is refused. */
const maxRemoveShare = () =>
  z
    .number()
    .min(0)
    .max(1)
    .describe(
      "largest share of a target's snapshots (on one destination) one prune run may remove, 0 to 1; a run that would remove more, or every snapshot, is refused and alerted",
    );

/** Per-destination retention (copies): replaces each target's own policy on that destination. */
const destinationRetention = () =>
  retention
    .optional()
    .describe(
      "retention of every target's snapshots on this destination, replacing the target's own (e.g. fewer copies off-site); default: each target's retention",
    );

const compression = z.strictObject({
  algorithm: z
    .enum(["zstd", "gzip", "none"])
    .default("zstd")
    .describe("zstd needs the zstd binary; gzip otherwise"),
  level: z.number().int().min(1).max(19).default(3),
});

const hooks = z.strictObject({
  before: z.string().optional().describe("shell command run before the backup; failure fails the run"),
  after: z.string().optional().describe("shell command run after the backup, whatever its result"),
  timeout: duration().prefault("5m"),
});

const check = z.union([
  z.strictObject({
    sql: z.string(),
    atLeast: z.number().optional(),
    equals: z.union([z.number(), z.string()]).optional(),
  }),
  z.strictObject({ file: z.string(), minSize: z.number().int().min(0).optional() }),
]);

const verify = z.strictObject({
  schedule: cron().prefault("0 6 * * 6").describe("restore test schedule; default weekly, Saturday 06:00"),
  kind: z.enum(["integrity", "restore"]).default("restore"),
  sample: z
    .number()
    .min(0)
    .max(100)
    .default(100)
    .describe("percent of stored objects read back by integrity checks"),
  randomWithin: duration()
    .optional()
    .describe("restore-test a random snapshot newer than this instead of the newest"),
  into: z.string().optional().describe("a verification server URL for scratch databases"),
  checks: z.array(check).default([]),
  timeout: duration()
    .optional()
    .describe("stop a restore test still running after this long (default: 4 x rto, at least 1h)"),
});

/** Keys every target shares; values left out fall back to `defaults`. */
const targetCommon = {
  schedule: schedule.prefault({}),
  destinations: z
    .array(z.string())
    .min(1)
    .optional()
    .describe("destination names; default defaults.destinations"),
  retention: retention.optional(),
  rpo: duration().optional(),
  rto: duration().optional(),
  compression: compression.optional(),
  verify: verify.optional(),
  hooks: hooks.optional(),
  protected: z.boolean().default(false).describe("restores in place need a second operator's approval"),
  maxRemoveShare: maxRemoveShare().optional().describe("default defaults.maxRemoveShare"),
};

const filesTarget = z.strictObject({
  type: z.literal("files"),
  path: z.string().min(1).describe("directory to back up (local path or mounted share)"),
  exclude: z.array(z.string()).default([]).describe("glob patterns relative to path"),
  mountpoint: z
    .boolean()
    .default(false)
    .describe("path must be a mount point: a backup fails when the share is not mounted"),
  allowEmpty: z
    .boolean()
    .default(false)
    .describe("back up an empty path instead of failing (an unmounted share looks empty)"),
  ...targetCommon,
});

const tls = z
  .strictObject({
    enabled: z.boolean().default(true),
    ca: z.string().optional().describe("path of a CA bundle"),
    rejectUnauthorized: z.boolean().default(true),
  })
  .optional();

const connection = {
  url: secret().optional().describe("connection URL; may hold a password, so treated as a secret"),
  urlFile: secretFile().optional(),
  host: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
  user: z.string().optional(),
  password: secret().optional(),
  passwordFile: secretFile().optional(),
  database: z.string().optional(),
  tls,
};

const postgresTarget = z.strictObject({
  type: z.literal("postgres"),
  ...connection,
  schemas: z
    .array(z.string())
    .optional()
    .describe('only these schemas (pg_dump --schema patterns: *, ?, "Quoted")'),
  excludeSchemas: z
    .array(z.string())
    .optional()
    .describe("leave out these schemas (pg_dump --exclude-schema)"),
  tables: z
    .array(z.string())
    .optional()
    .describe("only these tables, [schema.]table patterns (pg_dump --table); schemas then has no effect"),
  excludeTables: z.array(z.string()).optional().describe("leave out these tables (pg_dump --exclude-table)"),
  globals: z
    .boolean()
    .default(false)
    .describe("also back up roles and tablespaces (pg_dumpall --globals-only)"),
  rowCounts: z
    .enum(["exact", "estimate", "off"])
    .default("exact")
    .describe(
      "per-table row counts in the manifest: exact (read from the dump's own COPY data as it streams; count(*) in the dump's snapshot only for a table the archive cannot tell about), estimate (planner statistics), off",
    ),
  ...targetCommon,
});

const mysqlTarget = z.strictObject({
  type: z.literal("mysql"),
  ...connection,
  socket: z.string().optional().describe("unix socket path of the server; used instead of host and port"),
  ...targetCommon,
});

const redisTarget = z.strictObject({
  type: z.literal("redis"),
  ...connection,
  ...targetCommon,
});

const sqliteTarget = z.strictObject({
  type: z.literal("sqlite"),
  path: z.string().min(1).describe("the database file"),
  tempDir: z
    .string()
    .optional()
    .describe(
      "where the consistent copy is staged while it streams (needs room for one copy); default the OS temp dir",
    ),
  ...targetCommon,
});

const target = z.discriminatedUnion("type", [
  filesTarget,
  postgresTarget,
  mysqlTarget,
  redisTarget,
  sqliteTarget,
]);

const objectLock = z.strictObject({
  mode: z.enum(["governance", "compliance"]),
  days: z.number().int().min(1).optional(),
  untilRetention: z.boolean().optional(),
});

const s3Destination = z.strictObject({
  type: z.literal("s3"),
  bucket: z.string().min(3),
  prefix: z.string().default(""),
  region: z.string().default("us-east-1"),
  endpoint: z.string().url().optional().describe("any S3-compatible service; omit for AWS"),
  forcePathStyle: z.boolean().optional().describe("default true when endpoint is set"),
  accessKeyId: z.string().optional(),
  secretAccessKey: secret().optional(),
  secretAccessKeyFile: secretFile().optional(),
  sessionToken: secret().optional(),
  sessionTokenFile: secretFile().optional(),
  partSizeMiB: z
    .number()
    .int()
    .min(5)
    .max(5120)
    .default(8)
    .describe(
      "multipart part size (the AWS CLI's default); grown automatically from the previous snapshot's size",
    ),
  queueSize: z
    .number()
    .int()
    .min(1)
    .max(32)
    .default(3)
    .describe("parts in flight; memory ≈ partSize × (queueSize + 1)"),
  maxAttempts: z.number().int().min(1).max(20).default(5),
  objectLock: objectLock.optional(),
  retention: destinationRetention(),
});

const filesystemDestination = z.strictObject({
  type: z.literal("filesystem"),
  path: z.string().min(1),
  prefix: z.string().default(""),
  retention: destinationRetention(),
});

const destination = z.discriminatedUnion("type", [s3Destination, filesystemDestination]);

const email = z.strictObject({
  smtp: z.strictObject({
    host: z.string(),
    port: z.number().int().default(587),
    secure: z.boolean().default(false),
    user: z.string().optional(),
    password: secret().optional(),
    passwordFile: secretFile().optional(),
    tls: tls,
  }),
  from: z.string(),
  to: z.array(z.string()).min(1),
});

const webhook = z.strictObject({
  url: secret().describe("webhook URLs often embed a token, so they are secrets"),
  format: z.enum(["json", "slack"]).default("json"),
});

const alerts = z.strictObject({
  email: email.optional(),
  webhooks: z.array(webhook).default([]),
  repeat: duration()
    .refine((ms) => ms >= 10 * 60_000, {
      message:
        "at least 10m: the watchdog runs every minute, so a shorter repeat re-sends every open incident each minute",
    })
    .prefault("4h")
    .describe("re-send an open incident this often (at least 10m)"),
});

const reports = z.strictObject({
  monthly: z
    .strictObject({
      to: z.array(z.string()).min(1),
      schedule: cron().prefault("0 8 1 * *"),
    })
    .optional(),
});

const encryption = z.strictObject({
  recipients: z.array(recipient()).min(1),
  identityFile: z
    .string()
    .optional()
    .describe("age identity file; needed only where restores and verifications run"),
});

const operator = z.strictObject({
  role: z.enum(["viewer", "operator", "admin"]),
  tokenSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

export const configSchema = z.strictObject({
  redis: secret().prefault("redis://127.0.0.1:6379").describe("Redis URL"),
  redisFile: secretFile().optional(),
  queuePrefix: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/, "letters, digits, ':', '_' and '-' only")
    .default("haven")
    .describe(
      "Redis key prefix of Haven's queues, schedulers and locks; distinct per installation sharing a Redis",
    ),
  timezone: z.string().default("UTC").describe("IANA timezone for schedules and retention periods"),
  destinations: z.record(z.string(), destination).refine((d) => Object.keys(d).length > 0, {
    message: "at least one destination is needed",
  }),
  defaults: z
    .strictObject({
      destinations: z.array(z.string()).min(1).optional(),
      retention: retention.prefault({ daily: 7, weekly: 4, monthly: 12 }),
      rpo: duration().prefault("26h"),
      rto: duration().prefault("4h"),
      compression: compression.prefault({}),
      verify: verify.prefault({}),
      maxRemoveShare: maxRemoveShare().default(0.5),
    })
    .prefault({}),
  targets: z.record(z.string().regex(TARGET_NAME, TARGET_NAME_RULE), target),
  alerts: alerts.optional(),
  reports: reports.optional(),
  encryption: encryption.optional(),
  operators: z.record(z.string(), operator).optional(),
  workers: z
    .strictObject({
      concurrency: z.number().int().min(1).max(64).default(2),
      lockTtl: duration()
        .prefault("60s")
        .describe("a target lock expires this long after its holder stops renewing"),
      staleUploadGrace: duration()
        .refine((ms) => ms >= 3_600_000, {
          message: "at least 1h: a shorter grace takes uploads still being written for leftovers",
        })
        .prefault("24h")
        .describe("incomplete uploads older than this are removed (at least 1h)"),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default("127.0.0.1"),
      port: z.number().int().min(0).max(65535).default(9465),
    })
    .prefault({}),
});

/** The config as parsed, before `resolveConfig` fills target defaults. */
export type ParsedConfig = z.output<typeof configSchema>;
export type RawTargetConfig = z.output<typeof target>;
export type DestinationConfig = z.output<typeof destination>;
export type S3DestinationConfig = z.output<typeof s3Destination>;
export type FilesystemDestinationConfig = z.output<typeof filesystemDestination>;
export type CompressionConfig = z.output<typeof compression>;
export type VerifyConfig = z.output<typeof verify>;
export type HooksConfig = z.output<typeof hooks>;
export type CheckConfig = z.output<typeof check>;
export type AlertsConfig = z.output<typeof alerts>;
export type EncryptionConfig = z.output<typeof encryption>;
