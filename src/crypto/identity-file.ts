import { HavenError } from "../lib/errors";
import { openToOthers, readPrivateFile } from "../lib/private-file";
import { keyFormatError } from "./errors";
import { parseIdentity, type AgeIdentity } from "./keys";

/**
 * age identity files, as written by `age-keygen`: one identity per line, `#` comments, blank lines.
 *
 *     # created: 2026-01-01T00:00:00Z
 *     # public key: age1...
 *     AGE-SECRET-KEY-1...
 */

/**
 * Parses the text of an identity file. `source` (the file name) prefixes error messages, which name the
 * line but never quote it. Windows line ends and surrounding spaces are tolerated.
 * @throws HavenError CONFIG on a malformed line or when the file holds no identity at all.
 */
export function parseIdentities(fileText: string, source = "identity file"): AgeIdentity[] {
  const identities: AgeIdentity[] = [];
  fileText.split("\n").forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) return;
    identities.push(parseIdentity(line, `${source}:${index + 1}`));
  });
  if (identities.length === 0) {
    throw keyFormatError(
      `${source} holds no identity (only comments or blank lines)`,
      "Point encryption.identityFile at a file written by `age-keygen -o KEYFILE`.",
    );
  }
  return identities;
}

/** Even thousands of identities fit in far less: a larger file is a wrong path (a dump, a device). */
const MAX_IDENTITY_FILE_BYTES = 1024 * 1024;

/**
 * Reads and parses an identity file.
 * @throws HavenError CONFIG when the file is missing, unreadable, open to its group or others, or
 * malformed.
 */
export async function loadIdentityFile(path: string): Promise<AgeIdentity[]> {
  if (/AGE-SECRET-KEY-1/i.test(path)) {
    // Never quoted back: the key itself was given where its file's path belongs.
    throw new HavenError(
      "CONFIG",
      "the age identity file setting holds a secret key, not the path of a file",
      {
        hint: "write the key to a file readable only by Haven's user (`age-keygen -o KEYFILE`, or chmod 600) and set encryption.identityFile (or HAVEN_IDENTITY_FILE, or --identity) to that file's path; treat the key as exposed if it was pasted where others could see it",
      },
    );
  }
  let text: string;
  try {
    // First: a directory fails here (EISDIR), not as "too open".
    const read = await readPrivateFile(path, MAX_IDENTITY_FILE_BYTES);
    assertPrivate(path, read.mode);
    text = read.text;
  } catch (error) {
    if (error instanceof HavenError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES" || code === "EPERM"
          ? "is not readable by this user"
          : code === "EISDIR"
            ? "is a directory"
            : code === "ENOTREG"
              ? "is not a regular file (a FIFO, a socket or a device)"
              : code === "EFBIG"
                ? `is larger than ${MAX_IDENTITY_FILE_BYTES} bytes: not an identity file`
                : `cannot be read (${code ?? String(error)})`;
    throw new HavenError("CONFIG", `age identity file ${path} ${reason}`, {
      hint: "Check where the identity file is named (--identity, HAVEN_IDENTITY_FILE or encryption.identityFile in the config, in that order): it must name a file written by `age-keygen -o KEYFILE`, readable by the user running Haven.",
      cause: error,
    });
  }
  return parseIdentities(text, path);
}

/**
 * Refuses an identity file that its group or others may access, as ssh refuses such a private key:
 * whoever can read it can decrypt every snapshot. CONFIG, not DECRYPT: a restore test that meets it
 * says nothing about the snapshot (verify/damage.ts). Not checked on Windows, which has no such bits.
 */
function assertPrivate(path: string, mode: number): void {
  const octal = openToOthers(mode);
  if (octal === null) return;
  throw new HavenError(
    "CONFIG",
    `age identity file ${path} is accessible by its group or others (mode ${octal}): anyone who can read it can decrypt every snapshot`,
    {
      hint: `chmod 600 ${path} (a mounted secret: give it mode 0400, e.g. Kubernetes defaultMode: 0400, or copy it to a file of mode 0600 and point HAVEN_IDENTITY_FILE at the copy)`,
    },
  );
}
