/**
 * Operator API tokens. The config stores only `tokenSha256` (hex sha256 of the token's UTF-8 bytes);
 * the CLI presents the token itself from `HAVEN_TOKEN` or from the file named by `HAVEN_TOKEN_FILE`
 * (never as a command-line argument, which any user could read in the process list).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { HavenError } from "../lib/errors";
import { openToOthers, readPrivateFile } from "../lib/private-file";
import { Secret } from "../lib/secret";
import type { Role } from "./roles";

/** The value for `operators.<name>.tokenSha256` (what `haven token new` prints). */
export function hashToken(token: Secret): string {
  return createHash("sha256").update(token.reveal(), "utf8").digest("hex");
}

/** A fresh random token (`hvn_` and 43 base64url characters: 256 bits) and its hash for the config. */
export function generateToken(): { token: Secret; sha256: string } {
  const token = new Secret(`hvn_${randomBytes(32).toString("base64url")}`);
  return { token, sha256: hashToken(token) };
}

/** The config lines to add for an operator, for `haven token new` to print. */
export function operatorConfigSnippet(name: string, role: Role, sha256: string): string {
  return ["operators:", `  ${name}:`, `    role: ${role}`, `    tokenSha256: ${sha256}`].join("\n");
}

/**
 * True when `token` hashes to `expectedSha256` (64 hex). Compares in constant time, so the time taken
 * says nothing about how much of the hash matched.
 */
export function tokenMatches(token: Secret, expectedSha256: string): boolean {
  const expected = Buffer.from(expectedSha256, "hex");
  const actual = Buffer.from(hashToken(token), "hex");
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Tokens are one short line; more is a wrong path, not a token. */
const MAX_TOKEN_BYTES = 4096;

/**
 * The token this process presents: `HAVEN_TOKEN`, or the contents of the file `HAVEN_TOKEN_FILE`
 * (trailing newlines ignored; refused when its group or others may access it, as ssh refuses such
 * a key); undefined when neither is set. `HAVEN_TOKEN` is removed from `env` once read, so that no
 * child process inherits it. Both at once is a usage error, since it is unclear which one is meant.
 */
export async function readPresentedToken(env: NodeJS.ProcessEnv = process.env): Promise<Secret | undefined> {
  const inline = env.HAVEN_TOKEN;
  const file = env.HAVEN_TOKEN_FILE;
  if (inline && file) {
    throw new HavenError("USAGE", "both HAVEN_TOKEN and HAVEN_TOKEN_FILE are set", {
      hint: "unset one of them; HAVEN_TOKEN_FILE is preferred, since a file keeps the token out of the environment",
    });
  }
  if (inline) {
    // Read once, then out of the environment: every hook and dump tool this process starts inherits
    // it, and none of them needs the operator's credential.
    delete env.HAVEN_TOKEN;
    return new Secret(inline);
  }
  if (!file) return undefined;
  let contents: string;
  let mode: number;
  try {
    ({ text: contents, mode } = await readPrivateFile(file, MAX_TOKEN_BYTES));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES" || code === "EPERM"
          ? "is not readable by this user"
          : code === "EFBIG" || code === "EISDIR" || code === "ENOTREG"
            ? "is not a token file (a token is one short line in a regular file)"
            : "cannot be read";
    throw new HavenError(
      "CREDENTIALS",
      `the token file HAVEN_TOKEN_FILE=${file} ${reason} (${code ?? String(error)})`,
      {
        hint: "set HAVEN_TOKEN_FILE to the file holding your token (mode 0600, readable by the user running haven)",
        cause: error,
      },
    );
  }
  const octal = openToOthers(mode);
  if (octal !== null) {
    throw new HavenError(
      "CREDENTIALS",
      `the token file HAVEN_TOKEN_FILE=${file} is accessible by its group or others (mode ${octal}): anyone who can read it can act as its operator`,
      {
        hint: `chmod 600 ${file}, and have an admin replace the token (haven token new) if others may have read it`,
      },
    );
  }
  const token = contents.replace(/[\r\n]+$/, "");
  if (token.length === 0) {
    throw new HavenError("CREDENTIALS", `the token file HAVEN_TOKEN_FILE=${file} is empty`, {
      hint: "write the operator's token into it (one line)",
    });
  }
  return new Secret(token);
}
