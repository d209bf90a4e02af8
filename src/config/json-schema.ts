/**
 * The JSON Schema (draft 2020-12) of haven.yaml as written by hand, i.e. the *input* side of
 * `configSchema`: durations and secrets are strings, defaults are shown but not required. Editors use it
 * for completion and checks (`# yaml-language-server: $schema=...` or VS Code's `yaml.schemas`).
 * Values may be `${VAR}` references, which an editor sees as plain strings.
 */
import { z } from "zod";
import { configSchema } from "./schema";
import { isDurationSchema } from "./schema-walk";

/** The duration syntax of src/lib/duration.ts, for editors. */
const DURATION_PATTERN = "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w)$";

export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
    override: ({ zodSchema, jsonSchema }) => {
      // zod cannot see through the refinement of a duration; spell the syntax out for editors.
      if (jsonSchema.type === "string" && isDurationSchema(zodSchema)) {
        jsonSchema.pattern = DURATION_PATTERN;
        jsonSchema.examples = ["90s", "15m", "26h", "7d"];
      }
    },
  });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: "haven.yaml",
    description:
      "Haven configuration: destinations (where snapshots go), targets (what is backed up), defaults, alerts, reports, encryption. Values may use ${VAR} and ${VAR:-default}; secret keys have a <key>File twin.",
    ...rest,
  };
}
