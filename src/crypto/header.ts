import { createHmac, timingSafeEqual } from "node:crypto";
import { decryptError, decryptHints } from "./errors";
import { decodeBase64Canonical, encodeBase64NoPad, hkdfSha256 } from "./primitives";

/**
 * The textual age v1 header:
 *
 *     age-encryption.org/v1
 *     -> X25519 <base64 ephemeral share>
 *     <base64 body, wrapped at 64 columns, ending with a line shorter than 64 (maybe empty)>
 *     --- <base64 HMAC-SHA-256 of everything up to and including "---">
 *
 * followed directly by the binary payload.
 */

/** One recipient stanza: its arguments (the first names the recipient type) and its binary body. */
export interface Stanza {
  readonly args: readonly string[];
  readonly body: Buffer;
}

export interface ParsedHeader {
  readonly stanzas: readonly Stanza[];
  /** The bytes the MAC covers: the header up to and including the "---" mark. */
  readonly macInput: Buffer;
  readonly mac: Buffer;
  /** Header length in bytes, including the MAC line's LF: the payload starts here. */
  readonly length: number;
}

const VERSION_LINE = "age-encryption.org/v1\n";
const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
const COLUMNS = 64;
const MAC_MARK = "---";
/** "--- " + 43 base64 characters (32 bytes) + LF. */
const MAC_LINE_LENGTH = 4 + 43 + 1;
/**
 * A header larger than this is refused rather than buffered: real headers are a few hundred bytes per
 * recipient, and the bound keeps a garbage input from growing memory without limit.
 */
export const MAX_HEADER_SIZE = 1024 * 1024;

const HEADER_MAC_INFO = "header";

/** HMAC-SHA-256 keyed with HKDF(file key, "header"), over the header up to "---". */
export function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  const key = hkdfSha256(fileKey, Buffer.alloc(0), HEADER_MAC_INFO);
  try {
    return createHmac("sha256", key).update(macInput).digest();
  } finally {
    key.fill(0);
  }
}

export function macMatches(fileKey: Uint8Array, header: ParsedHeader): boolean {
  return timingSafeEqual(headerMac(fileKey, header.macInput), header.mac);
}

/** Serialises stanzas and appends the MAC under `fileKey`. */
export function encodeHeader(stanzas: readonly Stanza[], fileKey: Uint8Array): Buffer {
  let text = VERSION_LINE;
  for (const stanza of stanzas) {
    text += `-> ${stanza.args.join(" ")}\n`;
    const body = encodeBase64NoPad(stanza.body);
    // Full 64-column lines, then a final shorter line, which is empty when the body fills its last line.
    for (let at = 0; ; at += COLUMNS) {
      const line = body.slice(at, at + COLUMNS);
      text += `${line}\n`;
      if (line.length < COLUMNS) break;
    }
  }
  const macInput = Buffer.from(text + MAC_MARK, "latin1");
  const mac = headerMac(fileKey, macInput);
  return Buffer.concat([macInput, Buffer.from(` ${encodeBase64NoPad(mac)}\n`, "latin1")]);
}

function malformed(detail: string): Error {
  return decryptError(`malformed age header: ${detail}`, decryptHints.corrupt);
}

/** Refuses early, before buffering anything more, an input that cannot be an age v1 file. */
function checkVersionPrefix(bytes: Buffer): void {
  const seen = bytes.subarray(0, VERSION_LINE.length).toString("latin1");
  if (VERSION_LINE.startsWith(seen)) return;
  if (seen.startsWith(ARMOR_BEGIN.slice(0, seen.length)) && seen.length >= 5) {
    throw decryptError(
      "the input is ASCII-armored age; Haven reads only the binary format",
      "Decrypt it with `age -d`, or store payloads unarmored.",
    );
  }
  if (seen.startsWith("age-encryption.org/")) {
    throw decryptError(`unsupported age format version "${seen.trim()}"`, decryptHints.notAge);
  }
  throw decryptError("the input is not an age-encrypted file", decryptHints.notAge);
}

/** 1*VCHAR: printable ASCII without space. */
const ARGUMENT = /^[\x21-\x7e]+$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*$/;

/**
 * Parses a header from the start of `bytes`. Returns null while the header is still incomplete.
 * Follows the spec's strict grammar: canonical unpadded base64, body lines of exactly 64 columns
 * ending with a shorter one, at least one stanza.
 * @throws HavenError DECRYPT when the bytes are not a well-formed age v1 header.
 */
export function parseHeader(bytes: Buffer): ParsedHeader | null {
  checkVersionPrefix(bytes);
  const markAt = bytes.indexOf(`\n${MAC_MARK}`, VERSION_LINE.length - 1, "latin1");
  if (markAt < 0) {
    if (bytes.length > MAX_HEADER_SIZE) throw malformed(`no MAC line in the first ${MAX_HEADER_SIZE} bytes`);
    return null;
  }
  const macLineStart = markAt + 1;
  const length = macLineStart + MAC_LINE_LENGTH;
  if (bytes.length < length) return null;

  const macLine = bytes.subarray(macLineStart, length).toString("latin1");
  const mac =
    macLine.startsWith(`${MAC_MARK} `) && macLine.endsWith("\n")
      ? decodeBase64Canonical(macLine.slice(4, -1))
      : null;
  if (!mac || mac.length !== 32) throw malformed('the MAC line is not "--- " and a 32-byte base64 MAC');

  if (macLineStart - 1 < VERSION_LINE.length) throw malformed("no recipient stanza");
  // Lines between the version line and the MAC line; latin1 keeps one character per byte.
  const lines = bytes
    .subarray(VERSION_LINE.length, macLineStart - 1)
    .toString("latin1")
    .split("\n");
  const stanzas: Stanza[] = [];
  let index = 0;
  while (index < lines.length) {
    const argLine = lines[index++] ?? "";
    if (!argLine.startsWith("-> ")) throw malformed(`expected a stanza ("-> ...") at line ${index + 1}`);
    const args = argLine.slice(3).split(" ");
    if (!args.every((arg) => ARGUMENT.test(arg)))
      throw malformed(`bad stanza arguments at line ${index + 1}`);
    let body = "";
    for (;;) {
      const line = lines[index++];
      if (line === undefined)
        throw malformed("a stanza body does not end with a line shorter than 64 columns");
      if (!BASE64_LINE.test(line) || line.length > COLUMNS)
        throw malformed(`bad stanza body line ${index + 1}`);
      body += line;
      if (line.length < COLUMNS) break;
    }
    const decoded = decodeBase64Canonical(body);
    if (!decoded) throw malformed("a stanza body is not canonical base64");
    stanzas.push({ args, body: decoded });
  }
  return { stanzas, macInput: bytes.subarray(0, macLineStart + MAC_MARK.length), mac, length };
}
