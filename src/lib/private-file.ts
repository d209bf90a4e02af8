/**
 * Small files that hold a credential (an age identity, an operator token): read whole, with the mode
 * of the very file read, so that the permission check and the contents cannot come from two files.
 */
import { open } from "node:fs/promises";

export interface PrivateFileRead {
  text: string;
  /** st_mode of the file that was read. */
  mode: number;
}

/**
 * Reads `path` as UTF-8. Fails as fs does (ENOENT, EACCES, EISDIR: a directory fails on the read),
 * and with code EFBIG past `maxBytes`: a credential is short, and a wrong path to a dump or a device
 * must not be read into memory.
 */
export async function readPrivateFile(path: string, maxBytes: number): Promise<PrivateFileRead> {
  const file = await open(path, "r");
  try {
    const { mode } = await file.stat();
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) {
        throw Object.assign(new Error(`larger than ${maxBytes} bytes`), { code: "EFBIG" });
      }
    }
    return { text: buffer.toString("utf8", 0, length), mode };
  } finally {
    await file.close();
  }
}

/**
 * The mode as `ls` and chmod write it ("0644") when the file's group or others have any access to
 * it, else null. Windows has no such bits: null there.
 */
export function openToOthers(mode: number): string | null {
  if (process.platform === "win32" || (mode & 0o077) === 0) return null;
  return (mode & 0o777).toString(8).padStart(4, "0");
}
