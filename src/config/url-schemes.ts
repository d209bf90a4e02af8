import { HavenError } from "../lib/errors";

/** The URL schemes a database target's `url` (and its `verify.into`) may use, by target type. */
export const DATABASE_URL_SCHEMES = {
  postgres: ["postgres:", "postgresql:"],
  mysql: ["mysql:", "mariadb:"],
} as const satisfies Record<string, readonly string[]>;

/** "postgres:// or postgresql://", for messages. */
export function schemesText(type: keyof typeof DATABASE_URL_SCHEMES): string {
  return DATABASE_URL_SCHEMES[type].map((scheme) => `${scheme}//`).join(" or ");
}

export function hasScheme(type: keyof typeof DATABASE_URL_SCHEMES, protocol: string): boolean {
  return (DATABASE_URL_SCHEMES[type] as readonly string[]).includes(protocol.toLowerCase());
}

/**
 * The query parameters a target's `url` may carry, by target type. Haven hands its tools exactly the
 * settings it understood, so any other parameter would be dropped without a word: a `port` that
 * pointed the backup at the right server, a TLS demand (`ssl-mode=REQUIRED`) that kept the dump off
 * the wire in clear.
 */
const URL_PARAMETERS = {
  postgres: ["sslmode", "sslrootcert", "sslcert", "sslkey", "host", "port", "user", "dbname"],
  mysql: [],
  redis: [],
} as const satisfies Record<string, readonly string[]>;

export type UrlTargetType = keyof typeof URL_PARAMETERS;

export function isUrlTargetType(type: string): type is UrlTargetType {
  return Object.hasOwn(URL_PARAMETERS, type);
}

/** The url's query parameters that Haven would not pass on, each named once, in order. */
export function unsupportedUrlParameters(type: UrlTargetType, url: URL): string[] {
  const known: readonly string[] = URL_PARAMETERS[type];
  return [...new Set(url.searchParams.keys())].filter((name) => !known.includes(name));
}

const URL_PARAMETER_FIELDS: Record<UrlTargetType, string> = {
  postgres: "the target's fields (host, port, user, database, tls)",
  mysql: "the target's fields: tls (enabled, ca, rejectUnauthorized) for TLS, socket for a local socket",
  redis: "the target's fields: tls (enabled, ca, rejectUnauthorized), or a rediss:// url for TLS",
};

/** What an unsupported url parameter's message says, without the url (it may hold a password). */
export function unsupportedUrlParametersMessage(type: UrlTargetType, names: readonly string[]): string {
  const known: readonly string[] = URL_PARAMETERS[type];
  const accepted =
    known.length > 0 ? `a ${type} url takes only ${known.join(", ")}` : `a ${type} url takes none`;
  const plural = names.length > 1 ? "s" : "";
  return `url parameter${plural} ${names.join(", ")} would be ignored (${accepted}): use ${URL_PARAMETER_FIELDS[type]}`;
}

/** Throws the config error for a url (from any source) with parameters Haven would drop. */
export function refuseUnsupportedUrlParameters(type: UrlTargetType, url: URL, target: string): void {
  const unsupported = unsupportedUrlParameters(type, url);
  if (unsupported.length === 0) return;
  throw new HavenError("CONFIG", `target ${target}: ${unsupportedUrlParametersMessage(type, unsupported)}`, {
    hint: "remove them from the url; set what they meant as the fields named",
  });
}
