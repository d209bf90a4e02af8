import { Secret } from "../lib/secret";
import { valueAt } from "./schema-walk";
import type { VariableUse } from "./yaml-source";

/**
 * The environment variables whose values became secrets of the config (`password: ${DB_PASSWORD}`,
 * `url: ${CACHE_URL}`): found by looking at what each substituted path holds once the schema has
 * made its secrets `Secret`s, so the schema alone says what a secret is.
 */
export function secretVariables(config: unknown, uses: readonly VariableUse[]): Set<string> {
  const names = new Set<string>();
  for (const use of uses) {
    if (valueAt(config, use.path) instanceof Secret) for (const name of use.variables) names.add(name);
  }
  return names;
}
