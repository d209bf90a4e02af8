/**
 * Canonical JSON: the one byte form of a JSON value that audit hashes are computed over. Object keys
 * are sorted (by UTF-16 code units, as RFC 8785 does), there is no whitespace, `undefined` members are
 * left out, and numbers and strings are written as `JSON.stringify` writes them (which RFC 8785 adopts
 * for the values Haven stores: finite numbers, strings, booleans, null). So two writers that build the
 * same record always hash the same bytes, whatever order they set its fields in.
 */

/** The canonical form of `value`; throws TypeError for anything JSON cannot hold (NaN, functions, ...). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item: unknown) => (item === undefined ? "null" : canonicalJson(item))).join(",")}]`;
  }
  if (typeof value === "object") {
    const object = value as Record<string, unknown>;
    const members = Object.keys(object)
      .filter((key) => object[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
    return `{${members.join(",")}}`;
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
}
