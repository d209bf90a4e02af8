/**
 * The calls the archiver makes on the source file system, blocking and on the thread pool; which set
 * is used when is decided by AdaptiveCalls (adaptive-calls.ts).
 */
import {
  close,
  closeSync,
  fstat,
  fstatSync,
  lstat,
  lstatSync,
  open,
  openSync,
  read,
  readSync,
  readdir,
  readdirSync,
  readlink,
  readlinkSync,
  type Dirent,
  type Stats,
} from "node:fs";
import { promisify } from "node:util";
import { AdaptiveCalls, type IoMode } from "./adaptive-calls";

/** The file system calls the archiver makes; each returns a value or a promise of it. */
export interface FileSystemCalls {
  open: (path: string, flags: number) => number | Promise<number>;
  fstat: (fd: number) => Stats | Promise<Stats>;
  lstat: (path: string) => Stats | Promise<Stats>;
  /** The link's target as stored: bytes, which need not be UTF-8. */
  readlink: (path: string) => Buffer | Promise<Buffer>;
  /** Reads up to `length` bytes at `position` into `buffer` from `offset`; 0 at end of file. */
  read: (
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ) => number | Promise<number>;
  close: (fd: number) => void | Promise<void>;
  /** Names as stored: bytes, which need not be UTF-8. */
  readdir: (path: string) => Dirent<Buffer>[] | Promise<Dirent<Buffer>[]>;
}

const blockingCalls: FileSystemCalls = {
  open: (path, flags) => openSync(path, flags),
  fstat: (fd) => fstatSync(fd),
  lstat: (path) => lstatSync(path),
  readlink: (path) => readlinkSync(path, { encoding: "buffer" }),
  read: (fd, buffer, offset, length, position) => readSync(fd, buffer, offset, length, position),
  close: (fd) => closeSync(fd),
  readdir: (path) => readdirSync(path, { withFileTypes: true, encoding: "buffer" }),
};

const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const lstatAsync = promisify(lstat);
const closeAsync = promisify(close);

const threadPoolCalls: FileSystemCalls = {
  open: (path, flags) => openAsync(path, flags),
  fstat: (fd) => fstatAsync(fd),
  lstat: (path) => lstatAsync(path),
  readlink: (path) =>
    new Promise((resolve, reject) =>
      readlink(path, { encoding: "buffer" }, (error, target) => (error ? reject(error) : resolve(target))),
    ),
  read: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) =>
      read(fd, buffer, offset, length, position, (error, bytesRead) =>
        error ? reject(error) : resolve(bytesRead),
      ),
    ),
  close: (fd) => closeAsync(fd),
  readdir: (path) =>
    new Promise((resolve, reject) =>
      readdir(path, { withFileTypes: true, encoding: "buffer" }, (error, entries) =>
        error ? reject(error) : resolve(entries),
      ),
    ),
};

/** The source's calls for one run: blocking while fast (see adaptive-calls.ts). */
export function sourceCalls(
  mode: IoMode,
  onSwitch: (slowShare: number) => void,
): AdaptiveCalls<FileSystemCalls> {
  return new AdaptiveCalls(blockingCalls, threadPoolCalls, {
    mode,
    timed: ["open", "fstat", "lstat", "readlink", "readdir"],
    onSwitch,
  });
}
