import { Option } from "commander";

/** `-o table|json`: a value other than these is a usage error, not a table printed anyway. */
export function outputOption(): Option {
  return new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table");
}
