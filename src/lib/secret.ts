import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A value that must never be printed, logged or stored in clear. Every way a value usually becomes
 * text (String(), template literals, JSON.stringify, util.inspect, pino) yields "[redacted]";
 * only `reveal()` gives the clear value, so each use of a secret is visible in the code.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
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

/** Replaces every occurrence of the given secrets' values in `text` (for a child process's stderr). */
export function scrubSecrets(text: string, secrets: ReadonlyArray<Secret | string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    const value = secret instanceof Secret ? secret.reveal() : secret;
    if (value && value.length >= 3) out = out.split(value).join(REDACTED);
  }
  return out;
}
