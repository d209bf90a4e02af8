/**
 * The redaction pass every audit `detail` goes through before it is stored: audit records are kept for
 * years and read by auditors, so they must never hold a secret (HOUSE_STYLE: never store a secret in
 * clear). What it does, in order of trust:
 * - a `Secret` becomes "[redacted]" wherever it appears (the typed way secrets travel in Haven);
 * - a member whose key is named like a secret (password, token, secret, credential, authorization,
 *   api key, private key, identity, cookie) becomes "[redacted]", whatever its value;
 * - inside strings: the password of a URL (`postgres://u:pw@h` → `postgres://u:[redacted]@h`), age
 *   secret keys, the clear values of any `secrets` the caller names, and every form of every `Secret`
 *   this process holds (lib/secret.ts: a URL's password alone, JSON-escaped, percent-encoded) are
 *   replaced.
 * It also bounds what a record can hold: strings are cut at 2,000 characters, arrays at 100 items,
 * nesting at 8 levels; cycles become "[circular]". Dates become ISO strings, Errors their message,
 * bytes a length. Functions, symbols and undefined members are dropped.
 */
import { redacted, scrubKnownSecrets, scrubSecrets, Secret } from "../lib/secret";

/** A JSON value as stored in an audit record. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface RedactOptions {
  /** Secrets whose clear values must not appear inside any string (e.g. the config's secrets). */
  secrets?: ReadonlyArray<Secret | string | undefined>;
}

const MAX_STRING = 2000;
const MAX_ITEMS = 100;
const MAX_DEPTH = 8;

/** Member names whose values are secrets whatever they hold. */
const SECRET_KEY =
  /password|passwd|passphrase|^pass$|^pwd$|token|secret|credential|authori[sz]ation|api[-_]?key|private[-_]?key|^identity$|cookie/i;
/** `scheme://user:password@` → keep the user, drop the password (up to the last `@` before the host:
 * a password may hold `@`). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s/]*@/gi;
/** age X25519 identities (private keys), in either case: bech32 decoders accept both. */

/** True when a member called `key` is treated as a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A copy of `detail` that is safe to store in an audit record (see the module comment). */
export function redactDetail(
  detail: Readonly<Record<string, unknown>> | undefined,
  options: RedactOptions = {},
): Record<string, JsonValue> {
  if (detail === undefined) return {};
  const value = redactValue(detail, options, 0, new WeakSet());
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}

function redactValue(
  value: unknown,
  options: RedactOptions,
  depth: number,
  seen: WeakSet<object>,
): JsonValue | undefined {
  if (value === null) return null;
  if (value instanceof Secret) return redacted;
  switch (typeof value) {
    case "string":
      return redactString(value, options);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  const object = value;
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
  if (object instanceof Uint8Array) return `[${object.byteLength} bytes]`;
  if (object instanceof Error) return redactString(object.message, options);
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (seen.has(object)) return "[circular]";
  seen.add(object);
  try {
    if (Array.isArray(object) || object instanceof Set) {
      const items = [...(object as Iterable<unknown>)];
      const out = items
        .slice(0, MAX_ITEMS)
        .map((item) => redactValue(item, options, depth + 1, seen) ?? null);
      if (items.length > MAX_ITEMS) out.push(`[${items.length - MAX_ITEMS} more]`);
      return out;
    }
    const entries = object instanceof Map ? [...object.entries()] : Object.entries(object);
    const out: Record<string, JsonValue> = {};
    for (const [rawKey, member] of entries) {
      const key = String(rawKey);
      if (isSecretKey(key)) {
        if (member !== undefined) out[key] = redacted;
        continue;
      }
      const clean = redactValue(member, options, depth + 1, seen);
      if (clean !== undefined) out[key] = clean;
    }
    return out;
  } finally {
    seen.delete(object);
  }
}

function redactString(text: string, options: RedactOptions): string {
  // Named secrets first: the patterns below rewrite strings, after which a configured secret (a URL
  // with a token in its query, say) would no longer be found whole. Then every form of every Secret
  // the process holds, as the log does: a URL's password alone or decoded, a JSON-escaped value.
  const named = options.secrets ? scrubSecrets(text, options.secrets) : text;
  const scrubbed = scrubKnownSecrets(named);
  // (scrubKnownSecrets has removed age secret keys already.)
  const out = scrubbed.replace(URL_PASSWORD, `$1:${redacted}@`);
  return out.length > MAX_STRING
    ? `${out.slice(0, MAX_STRING)}…[${out.length - MAX_STRING} more characters]`
    : out;
}

/**
 * Every `Secret` inside a value (the loaded config, typically), to pass as `secrets` so their clear
 * values are scrubbed from audit strings too (an error message quoting a connection string, say).
 */
export function collectSecrets(value: unknown): Secret[] {
  const found = new Set<Secret>();
  const seen = new WeakSet<object>();
  const walk = (node: unknown): void => {
    if (node instanceof Secret) {
      found.add(node);
      return;
    }
    if (node === null || typeof node !== "object" || seen.has(node)) return;
    seen.add(node);
    for (const child of Array.isArray(node) ? node : Object.values(node)) walk(child);
  };
  walk(value);
  return [...found];
}
