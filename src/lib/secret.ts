import { inspect } from "node:util";

const REDACTED = "[redacted]";

/** Shorter values are not scrubbed from free text: they would blank out ordinary words and numbers. */
const MIN_SCRUBBED_LENGTH = 3;

/**
 * Every secret value this process holds, in each form it may take inside text: as is, escaped inside
 * a JSON string, and percent-encoded as the userinfo of a URL. A library that builds an error message
 * from a connection string or a request puts the clear value in text that no `Secret` guards any
 * more; the log and the CLI scrub these from whatever they print, whoever wrote it.
 */
const knownForms = new Set<string>();

function registerForms(secret: string): void {
  for (const value of secretParts(secret)) addForms(value);
}

/**
 * A connection URL (`redis://`, `postgres://`...) is a secret because of its password; the rest of it
 * says which server failed, which an operator needs to read. A webhook's http(s) URL is secret whole:
 * its token rides in the path or the query.
 */
function secretParts(value: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return [value];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [value];
  }
  const password = url.password ? [decodeUrlPart(url.password)] : [];
  if (url.protocol === "http:" || url.protocol === "https:") return [value, url.href, ...password];
  return password;
}

/**
 * A URL's user or password, percent-decoded; one with a bare `%` (not written as `%25`) is kept as
 * written instead of failing the whole config load with "URI malformed".
 */
export function decodeUrlPart(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function addForms(value: string): void {
  if (value.length < MIN_SCRUBBED_LENGTH) return;
  knownForms.add(value);
  knownForms.add(JSON.stringify(value).slice(1, -1));
  const url = new URL("http://host");
  url.password = value;
  knownForms.add(url.password);
  knownForms.add(encodeURIComponent(value));
}

/**
 * A value that must never be printed, logged or stored in clear. Every way a value usually becomes
 * text (String(), template literals, JSON.stringify, util.inspect, pino) yields "[redacted]";
 * only `reveal()` gives the clear value, so each use of a secret is visible in the code.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    registerForms(value);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

export const redacted = REDACTED;

/** `text` with every form of every secret this process holds replaced by "[redacted]". */
export function scrubKnownSecrets(text: string): string {
  let out = text;
  for (const form of knownForms) {
    if (out.includes(form)) out = out.split(form).join(REDACTED);
  }
  // An age secret key is recognisable by its form wherever it turns up (say, pasted as a path).
  return out.replace(AGE_SECRET_KEY, REDACTED);
}

const AGE_SECRET_KEY = /AGE-SECRET-KEY-1[0-9A-Z]+/gi;

/** Replaces every occurrence of the given secrets' values in `text` (for a child process's stderr). */
export function scrubSecrets(text: string, secrets: ReadonlyArray<Secret | string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    const value = secret instanceof Secret ? secret.reveal() : secret;
    if (value && value.length >= MIN_SCRUBBED_LENGTH) out = out.split(value).join(REDACTED);
  }
  return out;
}

/**
 * Credentials this process's clients read from its environment without the config naming them (the
 * S3 client's default chain when a destination gives no keys). They are secrets like the config's:
 * registered, they are scrubbed from logs, and hooks do not inherit them (targets/hooks.ts).
 */
const ENVIRONMENT_CREDENTIALS = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"];

export function registerEnvironmentCredentials(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of ENVIRONMENT_CREDENTIALS) {
    const value = env[name];
    if (value) registerForms(value);
  }
}

/** Variables the config took a secret from (`password: ${DB_PASSWORD}`); see config/secret-variables.ts. */
const secretVariableNames = new Set<string>(ENVIRONMENT_CREDENTIALS);

export function registerSecretVariables(names: Iterable<string>): void {
  for (const name of names) secretVariableNames.add(name);
}

/** Whether the variable holds a secret this process uses: one the config took, or an S3 credential. */
export function isSecretVariable(name: string): boolean {
  return secretVariableNames.has(name);
}
