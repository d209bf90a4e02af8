import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Haven's version from package.json (two levels up from both src/lib and dist/lib). */
export const havenVersion: string = (
  JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }
).version;
