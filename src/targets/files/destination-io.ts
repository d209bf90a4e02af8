/**
 * The calls a restore makes on the destination file system, blocking and on the thread pool; which
 * set is used when is decided by AdaptiveCalls (adaptive-calls.ts). All take numeric descriptors.
 */
import * as fs from "node:fs";
import { promisify } from "node:util";
import { AdaptiveCalls, type IoMode } from "./adaptive-calls";

type Maybe<T> = T | Promise<T>;

export interface DestinationCalls {
  lstat: (path: string) => Maybe<fs.Stats>;
  mkdir: (path: string, mode: number) => Maybe<void>;
  unlink: (path: string) => Maybe<void>;
  /** Replaces `to` (a file or link, never a directory) atomically: it never stops existing. */
  rename: (from: string, to: string) => Maybe<void>;
  open: (path: string, flags: number, mode: number) => Maybe<number>;
  /** Returns the bytes written (a short write is possible). */
  writev: (fd: number, buffers: Buffer[], position: number) => Maybe<number>;
  ftruncate: (fd: number, length: number) => Maybe<void>;
  fchmod: (fd: number, mode: number) => Maybe<void>;
  fchown: (fd: number, uid: number, gid: number) => Maybe<void>;
  futimes: (fd: number, atime: Date, mtime: Date) => Maybe<void>;
  close: (fd: number) => Maybe<void>;
  symlink: (target: string, path: string) => Maybe<void>;
  link: (existing: string, path: string) => Maybe<void>;
  lchown: (path: string, uid: number, gid: number) => Maybe<void>;
  lutimes: (path: string, atime: Date, mtime: Date) => Maybe<void>;
  /** chmod and utimes follow symlinks: use them only on paths known to be real directories. */
  chmod: (path: string, mode: number) => Maybe<void>;
  utimes: (path: string, atime: Date, mtime: Date) => Maybe<void>;
  /** The names in a directory; only to name what took an entry's place (rare: see extract.ts). */
  readdir: (path: string) => Maybe<string[]>;
}

const blockingCalls: DestinationCalls = {
  lstat: (path) => fs.lstatSync(path),
  mkdir: (path, mode) => void fs.mkdirSync(path, { mode }),
  unlink: (path) => fs.unlinkSync(path),
  rename: (from, to) => fs.renameSync(from, to),
  open: (path, flags, mode) => fs.openSync(path, flags, mode),
  writev: (fd, buffers, position) => fs.writevSync(fd, buffers, position),
  ftruncate: (fd, length) => fs.ftruncateSync(fd, length),
  fchmod: (fd, mode) => fs.fchmodSync(fd, mode),
  fchown: (fd, uid, gid) => fs.fchownSync(fd, uid, gid),
  futimes: (fd, atime, mtime) => fs.futimesSync(fd, atime, mtime),
  close: (fd) => fs.closeSync(fd),
  symlink: (target, path) => fs.symlinkSync(target, path),
  link: (existing, path) => fs.linkSync(existing, path),
  lchown: (path, uid, gid) => fs.lchownSync(path, uid, gid),
  lutimes: (path, atime, mtime) => fs.lutimesSync(path, atime, mtime),
  chmod: (path, mode) => fs.chmodSync(path, mode),
  utimes: (path, atime, mtime) => fs.utimesSync(path, atime, mtime),
  readdir: (path) => fs.readdirSync(path),
};

const mkdirAsync = promisify(fs.mkdir);
const threadPoolCalls: DestinationCalls = {
  lstat: promisify(fs.lstat),
  mkdir: async (path, mode) => void (await mkdirAsync(path, { mode })),
  unlink: promisify(fs.unlink),
  rename: promisify(fs.rename),
  open: promisify(fs.open),
  writev: (fd, buffers, position) =>
    new Promise((resolve, reject) =>
      fs.writev(fd, buffers, position, (error, written) => (error ? reject(error) : resolve(written))),
    ),
  ftruncate: promisify(fs.ftruncate),
  fchmod: promisify(fs.fchmod),
  fchown: promisify(fs.fchown),
  futimes: promisify(fs.futimes),
  close: promisify(fs.close),
  symlink: (target, path) => promisify(fs.symlink)(target, path),
  link: promisify(fs.link),
  lchown: promisify(fs.lchown),
  lutimes: promisify(fs.lutimes),
  chmod: promisify(fs.chmod),
  utimes: promisify(fs.utimes),
  readdir: (path) => promisify(fs.readdir)(path),
};

/**
 * Creating a file costs tens of microseconds in the kernel, several times a cached stat, and a restore
 * writes one file at a time whichever calls it uses: the thread pool only keeps the event loop free.
 * So the bar is higher than the source's: calls that wait on a network or a disk, not a busy kernel.
 */
const DESTINATION_SLOW_CALL_MS = 2;

/**
 * The destination's calls for one restore: blocking while fast (see adaptive-calls.ts). `wrap` sees
 * both sets (tests make a call fail as a real destination would: NFS refusing chown, say).
 */
export function destinationCalls(
  mode: IoMode,
  onSwitch: (slowShare: number) => void,
  wrap: (calls: DestinationCalls) => DestinationCalls = (calls) => calls,
): AdaptiveCalls<DestinationCalls> {
  return new AdaptiveCalls(wrap(blockingCalls), wrap(threadPoolCalls), {
    mode,
    timed: ["lstat", "mkdir", "unlink", "rename", "open", "symlink", "link"],
    slowCallMs: DESTINATION_SLOW_CALL_MS,
    onSwitch,
  });
}
