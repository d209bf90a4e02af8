/**
 * Where Node's fs meets our code for filesystem destinations: errno codes become HavenError codes,
 * with a hint naming the destination's config key.
 */
import { HavenError, isHavenError } from "../lib/errors";

export interface FsErrorContext {
  destination: string;
  /** The destination's root directory. */
  root: string;
  operation: string;
  key?: string;
}

/** Worth a retry: the disk or a network mount is busy or briefly unavailable. */
const TRANSIENT_CODES = new Set([
  "EAGAIN",
  "EBUSY",
  "EINTR",
  "EIO",
  "EMFILE",
  "ENFILE",
  "ESTALE",
  "ETIMEDOUT",
]);

export function classifyFsError(error: unknown, ctx: FsErrorContext): HavenError {
  if (isHavenError(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? "";
  const what = `${ctx.operation}${ctx.key === undefined ? "" : ` ${ctx.key}`} on destination ${ctx.destination} (${ctx.root})`;
  const detail = error instanceof Error ? error.message : String(error);
  const config = `destinations.${ctx.destination}.path`;
  const make = (haven: ConstructorParameters<typeof HavenError>[0], hint: string) =>
    new HavenError(haven, `${what} failed: ${detail}`, { hint, cause: error });

  switch (code) {
    case "ENOENT":
    case "ENOTDIR":
      // Missing is "no such object" when reading; when writing, the destination itself is broken.
      if (ctx.operation === "get") return make("NOT_FOUND", "list what exists with `haven snapshots`");
      return make(
        "PERMANENT",
        `a directory on the way to ${ctx.root} is missing or is a file: check ${config}`,
      );
    case "EEXIST":
      // The backend reports taken keys itself; an EEXIST from mkdir means a file stands where a
      // directory is needed.
      return make(
        "PERMANENT",
        `a file stands where a directory is needed under ${ctx.root}: check ${config}`,
      );
    case "EACCES":
    case "EPERM":
      return make(
        "PERMANENT",
        `give the user running Haven read and write access to ${config} (${ctx.root})`,
      );
    case "EROFS":
      return make("PERMANENT", `${ctx.root} is mounted read-only; remount it writable or change ${config}`);
    case "ENOSPC":
    case "EDQUOT":
      return make("PERMANENT", `the filesystem of ${config} is full; free space (haven prune) or grow it`);
    default:
      if (TRANSIENT_CODES.has(code)) {
        return make("TRANSIENT", `the filesystem under ${config} was briefly unavailable; it is retried`);
      }
      return make("PERMANENT", `check ${config} (${ctx.root}) and the cause below`);
  }
}
