/**
 * Names of scratch places, which carry their creation time, and how a sweep reads them back.
 *
 * A worker killed mid-test (SIGKILL, the OOM killer) never runs its cleanup, so its scratch database,
 * folder or redis-server stays. The next restore test of the same target removes such leftovers
 * (sweep.ts), and needs their age for that without trusting anything but the name: a folder's mtime
 * is whatever the restored tree set, and a database has no creation time in MySQL. So every name holds
 * the creation second, base36, 7 digits (zero-padded; 7 digits last until the year 4453):
 * - databases: `haven_verify_<target ≤ 32>_<time>_<4 hex>` (≤ 58 chars: an unquoted identifier in
 *   PostgreSQL, 63, and MySQL, 64);
 * - folders: `haven-verify-<target>-<time>-XXXXXX` (files, sqlite), `haven-redis-scratch-<target>-<time>-XXXXXX`.
 * Names of the older format (`haven_verify_<target>_<8 hex>`, `haven-verify-<target>-XXXXXX`) have
 * no age: they are reported, never removed automatically.
 */

/**
 * How old a scratch place must be before a sweep removes it. A sweep cannot tell a crashed test's
 * leftover from the place of a test still running on another worker (two workers may test the same
 * target at once); only age can, so this must exceed the longest restore test. Backups of terabytes
 * already outlive 24 h (workers.staleUploadGrace), and a restore test of the same data loads it and
 * then builds its indexes, which takes longer than dumping it. A sweep runs only when the target's
 * next restore test starts (weekly by default), so a longer wait costs little disk time: 72 h.
 */
export const SCRATCH_ORPHAN_AGE_MS = 72 * 3600_000;

/** Scratch names written before this are not Haven's (the stamped format came later): a name that parses to earlier is not ours. */
const FORMAT_EPOCH_S = Date.UTC(2025, 0, 1) / 1000;
const STAMP_DIGITS = 7;
/** How far ahead of this host's clock a stamp may be (another worker's clock): such a name is young. */
const CLOCK_SKEW_MS = 3600_000;

/** The creation second of a scratch place, as its name carries it. */
export function timeStamp(now: Date): string {
  return Math.floor(now.getTime() / 1000)
    .toString(36)
    .padStart(STAMP_DIGITS, "0");
}

/** The target's part of a database name: lowercase, `[a-z0-9_]`, at most 32 characters. */
function databaseTarget(target: string): string {
  return target
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 32);
}

/** The prefix every scratch database of `target` starts with. */
export function scratchDatabasePrefix(target: string): string {
  return `haven_verify_${databaseTarget(target)}_`;
}

/** `haven_verify_<target>_<time>_<suffix>`; `suffix` is 4 hex digits. */
export function scratchDatabaseName(target: string, now: Date, suffix: string): string {
  return `${scratchDatabasePrefix(target)}${timeStamp(now)}_${suffix}`;
}

/** The directory-name prefix of every scratch directory of a target (files, sqlite). */
export function scratchDirPrefix(target: string): string {
  return `haven-verify-${target}-`;
}

/** The directory-name prefix of every scratch redis-server's directory of a target. */
export function redisDirPrefix(target: string): string {
  return `haven-redis-scratch-${target}-`;
}

/** The prefix a new scratch directory is created with (mkdtemp adds 6 characters). */
export function stampedDirPrefix(prefix: string, now: Date): string {
  return `${prefix}${timeStamp(now)}-`;
}

/** What a name found in the place where `prefix`'s scratch places live is. */
export type ScratchName =
  | { kind: "stamped"; createdAt: Date }
  /** The format before creation times: Haven's, age unknown. */
  | { kind: "legacy" }
  /** Not a scratch place of this target: never touched. */
  | { kind: "other" };

export interface NameFormat {
  /** Everything before the stamp, exactly (the target's own prefix). */
  prefix: string;
  /** What follows the stamp: `_<4 hex>` or `-XXXXXX`. */
  stampedTail: RegExp;
  /** The whole rest after the prefix in the format without a stamp. */
  legacyRest: RegExp;
}

export const DATABASE_FORMAT = (target: string): NameFormat => ({
  prefix: scratchDatabasePrefix(target),
  stampedTail: /^_[0-9a-f]{4}$/,
  legacyRest: /^[0-9a-f]{8}$/,
});

/** mkdtemp's six characters. */
export const DIR_FORMAT = (prefix: string): NameFormat => ({
  prefix,
  stampedTail: /^-[A-Za-z0-9]{6}$/,
  legacyRest: /^[A-Za-z0-9]{6}$/,
});

/**
 * Reads a name. Only the exact format counts: the target's own prefix, 7 base36 digits of a time
 * between the format's introduction and now (plus clock skew), and the exact tail. Another target's
 * scratch place (its prefix differs in the target part, or its rest has more parts) and a database
 * merely named like one (`haven_verify_shop_reports_2024`: no 7-digit time) are "other". One overlap
 * remains: folder names of the old format of a target named `<target>-<7 base36 digits>` read as this
 * target's; those digits would have to spell a time since 2025, and such a folder is a leftover of
 * an older Haven in any case.
 */
export function readScratchName(name: string, format: NameFormat, now: Date): ScratchName {
  if (!name.startsWith(format.prefix)) return { kind: "other" };
  const rest = name.slice(format.prefix.length);
  if (format.legacyRest.test(rest)) return { kind: "legacy" };
  const stamp = rest.slice(0, STAMP_DIGITS);
  if (!/^[0-9a-z]{7}$/.test(stamp) || !format.stampedTail.test(rest.slice(STAMP_DIGITS))) {
    return { kind: "other" };
  }
  const seconds = parseInt(stamp, 36);
  if (seconds < FORMAT_EPOCH_S || seconds * 1000 > now.getTime() + CLOCK_SKEW_MS) return { kind: "other" };
  return { kind: "stamped", createdAt: new Date(seconds * 1000) };
}

/** A stamped scratch place old enough that no running test can still own it (see SCRATCH_ORPHAN_AGE_MS). */
export function isOrphan(name: ScratchName, now: Date): boolean {
  return name.kind === "stamped" && now.getTime() - name.createdAt.getTime() > SCRATCH_ORPHAN_AGE_MS;
}
