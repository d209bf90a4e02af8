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
