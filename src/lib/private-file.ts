/**
 * Small files that hold a credential (an age identity, an operator token, a `*File` secret of the
 * config): read whole, with the mode of the very file read, so that the permission check and the
 * contents cannot come from two files.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from "node:fs";

export interface PrivateFileRead {
  text: string;
  /** st_mode of the file that was read. */
  mode: number;
}

/**
 * Reads `path` as UTF-8. Fails as fs does (ENOENT, EACCES), with EISDIR for a directory, ENOTREG
 * for anything else that is not a regular file (a FIFO would wait for a writer, and the command
 * with it), and EFBIG past `maxBytes`: a credential is short, and a wrong path to a dump or a device
 * must not be read into memory. Synchronous: config loading needs it so, and these files are tiny.
 */
export function readPrivateFileSync(path: string, maxBytes: number): PrivateFileRead {
  // Non-blocking, or opening a FIFO would wait for a writer before the type could be checked.
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw failure("EISDIR", "is a directory");
    if (!stat.isFile()) throw failure("ENOTREG", "not a regular file");
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > maxBytes) throw failure("EFBIG", `larger than ${maxBytes} bytes`);
    }
    return { text: buffer.toString("utf8", 0, length), mode: stat.mode };
  } finally {
    closeSync(fd);
  }
}

/** `readPrivateFileSync` for async callers. */
export async function readPrivateFile(path: string, maxBytes: number): Promise<PrivateFileRead> {
  return Promise.resolve().then(() => readPrivateFileSync(path, maxBytes));
}

function failure(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * The mode as `ls` and chmod write it ("0644") when the file's group or others have any access to
 * it, else null. Windows has no such bits: null there.
 */
export function openToOthers(mode: number): string | null {
  if (process.platform === "win32" || (mode & 0o077) === 0) return null;
  return (mode & 0o777).toString(8).padStart(4, "0");
}
