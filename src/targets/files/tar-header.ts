/**
 * Tar headers for archived entries: POSIX ustar, with a pax extended header whenever a value does not
 * fit ustar (tar-stream adds one by itself for long or non-ASCII names; the other cases are here).
 */
import type { Stats } from "node:fs";
import type { Header } from "tar-stream";

/** ustar's uid/gid fields hold 7 octal digits. */
const USTAR_MAX_ID = 0o7777777;
/** ustar's size field holds 11 octal digits (8 GiB - 1); tar-stream writes bigger sizes base-256. */
const USTAR_MAX_SIZE = 0o77777777777;
/** tar-stream encodes mtime with `| 0`: seconds outside the int32 range would be corrupted. */
const MAX_SAFE_MTIME_SECONDS = 2 ** 31 - 1;

export type ArchivedType = "file" | "directory" | "symlink";

/** What `pack.entry` takes: a name plus any header fields, and pax records to write. */
export type TarHeader = Partial<Omit<Header, "pax">> & { name: string; pax?: Record<string, string> };

export interface HeaderInput {
  /** Path relative to the archive root, without a trailing "/". */
  path: string;
  type: ArchivedType;
  stat: Stats;
  /** Content size for files (what the archive holds, whatever the file did meanwhile). */
  size?: number;
  linkTarget?: string;
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** Decimal seconds for a pax `mtime` record, from milliseconds. */
function paxSeconds(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const fraction = ms - seconds * 1000;
  return fraction === 0
    ? String(seconds)
    : `${seconds}.${String(Math.round(fraction * 1000)).padStart(6, "0")}`;
}

export function tarHeader(input: HeaderInput): TarHeader {
  const { stat } = input;
  const size = input.type === "file" ? (input.size ?? stat.size) : 0;
  const pax: Record<string, string> = {};
  let needsPax = false;

  let mtime = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
  const seconds = mtime.getTime() / 1000;
  if (seconds < 0 || seconds > MAX_SAFE_MTIME_SECONDS) {
    pax.mtime = paxSeconds(stat.mtimeMs);
    mtime = new Date(seconds < 0 ? 0 : MAX_SAFE_MTIME_SECONDS * 1000);
    needsPax = true;
  }
  if (size > USTAR_MAX_SIZE) {
    pax.size = String(size);
    needsPax = true;
  }
  if (stat.uid > USTAR_MAX_ID) {
    pax.uid = String(stat.uid);
    needsPax = true;
  }
  if (stat.gid > USTAR_MAX_ID) {
    pax.gid = String(stat.gid);
    needsPax = true;
  }
  // ustar's linkname is plain bytes; a pax `linkpath` record is the portable way to store UTF-8.
  if (input.linkTarget !== undefined && NON_ASCII.test(input.linkTarget)) needsPax = true;

  const header: TarHeader = {
    name: input.type === "directory" ? `${input.path}/` : input.path,
    type: input.type,
    // The type bits keep the value non-zero: tar-stream replaces a falsy mode (chmod 000) with 0644.
    // Only the permission bits are written (tar-stream masks with 0o7777).
    mode: stat.mode,
    uid: Math.min(stat.uid, USTAR_MAX_ID),
    gid: Math.min(stat.gid, USTAR_MAX_ID),
    size,
    mtime,
  };
  if (input.linkTarget !== undefined) header.linkname = input.linkTarget;
  // tar-stream writes a pax header whenever `pax` is set; it then also records path and linkpath.
  if (needsPax) header.pax = pax;
  return header;
}
