import Ajv2020 from "ajv/dist/2020";
import { configJsonSchema } from "../../src/config/json-schema";
import { parseDuration } from "../../src/lib/duration";

const schema = configJsonSchema();
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true, validateFormats: false });

/** The node at `path` inside the schema (plain JSON), for reading nested keywords. */
function at(...path: string[]): Record<string, unknown> {
  let node: unknown = schema;
  for (const key of path) node = (node as Record<string, unknown>)[key];
  return node as Record<string, unknown>;
}
const properties = at("properties");

describe("configJsonSchema", () => {
  it("is draft 2020-12 JSON Schema that survives a JSON round trip and passes the meta-schema", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(ajv.errors ?? []).toEqual([]);
  });

  it("describes the config's sections, with descriptions, defaults and no unknown keys", () => {
    expect(Object.keys(properties)).toEqual(
      expect.arrayContaining([
        "redis",
        "destinations",
        "defaults",
        "targets",
        "alerts",
        "reports",
        "encryption",
      ]),
    );
    expect(schema.additionalProperties).toBe(false);
    expect(properties.redis).toMatchObject({
      type: "string",
      description: "Redis URL",
      default: "redis://127.0.0.1:6379",
    });
    expect(at("properties", "defaults", "properties", "rpo")).toMatchObject({
      type: "string",
      default: "26h",
    });
    expect(schema.required).toEqual(expect.arrayContaining(["destinations", "targets"]));
  });

  it("spells out the duration syntax, agreeing with parseDuration", () => {
    const pattern = new RegExp(at("properties", "defaults", "properties", "rpo").pattern as string);
    for (const text of ["90s", "15m", "26h", "7d", "2w", "1.5h", "250ms"]) {
      expect([text, pattern.test(text)]).toEqual([text, true]);
      expect(parseDuration(text)).not.toBeNull();
    }
    for (const text of ["26 hours", "h", "-1h", "1y"]) {
      expect([text, pattern.test(text)]).toEqual([text, false]);
      expect(parseDuration(text)).toBeNull();
    }
  });

  it("accepts a valid config and rejects unknown keys, bad durations and bad target names, as an editor would", () => {
    const validate = ajv.compile(schema);
    const valid = {
      destinations: { d: { type: "filesystem", path: "/b" } },
      defaults: { destinations: ["d"], rpo: "26h" },
      targets: { "orders-db": { type: "postgres", host: "db1", passwordFile: "/run/secrets/pg" } },
    };
    expect(validate(valid)).toBe(true);

    expect(validate({ ...valid, bogus: 1 })).toBe(false);
    expect(validate({ ...valid, defaults: { rpo: "26 hours" } })).toBe(false);
    expect(validate({ ...valid, targets: { Orders: { type: "sqlite", path: "/x" } } })).toBe(false);
    expect(validate({ ...valid, targets: { x: { type: "mongodb" } } })).toBe(false);
  });
});
