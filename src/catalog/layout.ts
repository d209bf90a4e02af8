/**
 * Every object key Haven writes is built here (the bucket layout contract of DESIGN.md). Keys are
 * relative to the destination's prefix; the storage backend adds the prefix.
 *
 *   <target>/<snapshotId>/manifest.json
 *   <target>/<snapshotId>/<stream>.<format>[.zst|.gz][.age]
 *   <target>/<snapshotId>/verifications/<time>-<4 hex>.json   (time with milliseconds)
 *   _audit/<yyyy>/<mm>/<dd>/<time>-<id>.json
 *   _reports/<yyyy>-<mm>.json
 *   _pruned/<target>/<snapshotId>[.verified].json   (what prune kept of a snapshot it removed)
 */
import { randomBytes } from "node:crypto";

const SNAPSHOT_ID = /^(\d{8}T\d{6}Z)-([0-9a-f]{8})$/;

/** `20261122T020000Z-1a2b3c4d`: sorts by time; the random tail makes concurrent ids distinct. */
export function newSnapshotId(at: Date): string {
  return `${compactUtc(at)}-${randomBytes(4).toString("hex")}`;
}

export function isSnapshotId(text: string): boolean {
  return SNAPSHOT_ID.test(text);
}

/** The time a snapshot id was minted (second precision). */
export function snapshotIdTime(id: string): Date {
  const match = SNAPSHOT_ID.exec(id);
  if (!match) throw new Error(`not a snapshot id: ${id}`);
  const t = match[1] as string;
  return new Date(
    `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`,
  );
}

/** `20261122T020000Z` */
export function compactUtc(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

export const layout = {
  targetPrefix: (target: string) => `${target}/`,
  snapshotPrefix: (target: string, id: string) => `${target}/${id}/`,
  manifest: (target: string, id: string) => `${target}/${id}/manifest.json`,
  payload: (target: string, id: string, fileName: string) => `${target}/${id}/${fileName}`,
  verificationsPrefix: (target: string, id: string) => `${target}/${id}/verifications/`,
  /** Milliseconds and a random tail: two verifications finishing in the same second keep both records. */
  verification: (target: string, id: string, at: Date) =>
    `${target}/${id}/verifications/${at.toISOString().replace(/[-:]/g, "")}-${randomBytes(2).toString("hex")}.json`,
  auditPrefix: () => `_audit/`,
  audit: (at: Date, id: string) => {
    const iso = at.toISOString();
    return `_audit/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${compactUtc(at)}-${id}.json`;
  },
  report: (month: string) => `_reports/${month}.json`,
  prunedPrefix: (target: string) => `_pruned/${target}/`,
  /** `.verified` when it holds verification records: the watchdog reads only those. */
  pruned: (target: string, id: string, verified: boolean) =>
    `_pruned/${target}/${id}${verified ? ".verified" : ""}.json`,
  /** Names starting with "_" are Haven's own areas, never targets. */
  isReserved: (firstSegment: string) => firstSegment.startsWith("_"),
};

/** Parses `<target>/<snapshotId>/manifest.json`; null for any other key. */
export function parseManifestKey(key: string): { target: string; id: string } | null {
  const parts = key.split("/");
  if (parts.length !== 3 || parts[2] !== "manifest.json") return null;
  const [target, id] = parts as [string, string, string];
  if (layout.isReserved(target) || !isSnapshotId(id)) return null;
  return { target, id };
}

/** Parses any key under a snapshot folder; null for keys outside the layout. */
export function parseSnapshotKey(key: string): { target: string; id: string; rest: string } | null {
  const [target, id, ...rest] = key.split("/");
  if (!target || !id || rest.length === 0 || layout.isReserved(target) || !isSnapshotId(id)) return null;
  return { target, id, rest: rest.join("/") };
}

const VERIFICATION_NAME =
  /^verifications\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d{3})?Z(-[0-9a-f]+)?\.json$/;

/** The time of a verification record from its key's tail (`verifications/<time>[-<hex>].json`); null otherwise. */
export function verificationKeyTime(rest: string): Date | null {
  const m = VERIFICATION_NAME.exec(rest);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, ms] = m as unknown as string[];
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms ?? ""}Z`);
}

/** Parses `_pruned/<target>/<snapshotId>[.verified].json`; null for any other key. */
export function parsePrunedKey(key: string): { target: string; id: string; verified: boolean } | null {
  const parts = key.split("/");
  if (parts.length !== 3 || parts[0] !== "_pruned" || !parts[2]?.endsWith(".json")) return null;
  const [, target, file] = parts as [string, string, string];
  const verified = file.endsWith(".verified.json");
  const id = file.slice(0, -(verified ? ".verified.json" : ".json").length);
  return isSnapshotId(id) && !layout.isReserved(target) ? { target, id, verified } : null;
}
