import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { configJsonSchema } from "../../src/config/json-schema";
import { ConfigError, loadConfig } from "../../src/config/load";
import { configSchema } from "../../src/config/schema";
import { parseYaml, substitutedData } from "../../src/config/yaml-source";
import { IssueCollector } from "../../src/config/issues";

const example = join(__dirname, "../../config/haven.example.yaml");
/** The secret files the example's header lists, read from $HAVEN_SECRETS_DIR. */
const secretFiles = [
  "s3-primary-secret",
  "s3-offsite-secret",
  "pg-orders",
  "mysql-crm",
  "redis-sessions",
  "smtp",
];

let secretsDir: string;

beforeAll(async () => {
  secretsDir = await mkdtemp(join(tmpdir(), "haven-config-example-"));
  for (const name of secretFiles) await writeFile(join(secretsDir, name), `secret-of-${name}\n`);
});

afterAll(async () => {
  await rm(secretsDir, { recursive: true, force: true });
});

describe("config/haven.example.yaml", () => {
  it("validates with HAVEN_SECRETS_DIR and HAVEN_AGE_RECIPIENT set, and covers every kind of target and destination", async () => {
    const config = await loadConfig(example, {
      HAVEN_SECRETS_DIR: secretsDir,
      HAVEN_AGE_RECIPIENT: "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
    });

    expect(new Set(Object.values(config.targets).map((target) => target.type))).toEqual(
      new Set(["postgres", "mysql", "redis", "sqlite", "files"]),
    );
    expect(new Set(Object.values(config.destinations).map((destination) => destination.type))).toEqual(
      new Set(["s3", "filesystem"]),
    );
    expect(config.alerts?.email).toBeDefined();
    expect(config.alerts?.webhooks).toHaveLength(1);
    expect(config.reports?.monthly).toBeDefined();
    expect(config.encryption?.recipients).toHaveLength(1);
    const orders = config.targets["orders-db"];
    expect(orders?.type === "postgres" && orders.password?.reveal()).toBe("secret-of-pg-orders");
  });

  it("documents every environment variable it reads in its header", async () => {
    const text = await readFile(example, "utf8");
    const header = text.slice(0, text.indexOf("\nredis:"));
    const used = new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((match) => match[1]));
    const undocumented = [...used].filter((name) => !new RegExp(`^#.*\\b${name}\\b`, "m").test(header));
    expect(undocumented).toEqual([]);
  });

  it("names every key of the schema, in use or in a comment (the <key>File twins by the header's rule)", async () => {
    const text = await readFile(example, "utf8");
    const keys = new Set<string>();
    const collect = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(collect);
      if (node === null || typeof node !== "object") return;
      const properties = (node as { properties?: Record<string, unknown> }).properties;
      for (const key of Object.keys(properties ?? {})) keys.add(key);
      Object.values(node).forEach(collect);
    };
    collect(configJsonSchema());
    expect(text).toContain("Give either the key or its *File twin");
    const unnamed = [...keys].filter(
      (key) => !key.endsWith("File") && !new RegExp(`\\b${key}\\b`).test(text),
    );
    expect(unnamed).toEqual([]);
  });

  it("needs nothing but the secret files and a real recipient in place of the placeholder", async () => {
    const error = await loadConfig(example, {}).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((issue) => issue.message)).toEqual([
      ...secretFiles.map((name) => `cannot use secret file /run/secrets/${name}: no such file`),
      expect.stringContaining('"age1replacewithyourownrecipient" is not a valid age recipient'),
    ]);
  });

  it("matches the JSON Schema editors get, once variables are substituted", async () => {
    const text = await readFile(example, "utf8");
    const yaml = parseYaml(text);
    const issues = new IssueCollector(example, yaml.source);
    const { data } = substitutedData(yaml.doc, text, {}, configSchema, issues);
    expect(issues.issues).toEqual([]);

    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true, validateFormats: false });
    const validate = ajv.compile(configJsonSchema());
    expect(validate(data)).toBe(true);
    expect(validate.errors ?? []).toEqual([]);
  });
});
