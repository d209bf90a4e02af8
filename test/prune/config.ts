/** haven.yaml text for the prune, copy and Object Lock tests, parsed by the real config loader. */
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";

export interface S3DestinationSpec {
  type: "s3";
  endpoint: string;
  bucket: string;
  prefix: string;
  /** Extra YAML lines under the destination (objectLock, retention, ...), indented by the helper. */
  extra?: string[];
}

export interface FsDestinationSpec {
  type: "filesystem";
  path: string;
  extra?: string[];
}

export interface TargetSpec {
  destinations: string[];
  /** YAML flow mapping, e.g. "{ daily: 5 }". */
  retention?: string;
  maxRemoveShare?: number;
}

export interface ConfigSpec {
  destinations: Record<string, S3DestinationSpec | FsDestinationSpec>;
  targets: Record<string, TargetSpec>;
  queuePrefix?: string;
  timezone?: string;
}

export function configYaml(spec: ConfigSpec): string {
  const lines = [
    `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
    `timezone: ${spec.timezone ?? "UTC"}`,
    ...(spec.queuePrefix ? [`queuePrefix: ${spec.queuePrefix}`] : []),
    "destinations:",
  ];
  for (const [name, dest] of Object.entries(spec.destinations)) {
    lines.push(`  ${name}:`);
    if (dest.type === "s3") {
      lines.push(
        "    type: s3",
        `    bucket: ${dest.bucket}`,
        `    prefix: "${dest.prefix}"`,
        `    endpoint: ${dest.endpoint}`,
        "    accessKeyId: S3RVER",
        "    secretAccessKey: S3RVER",
        "    partSizeMiB: 5",
        "    maxAttempts: 1",
      );
    } else {
      lines.push("    type: filesystem", `    path: ${dest.path}`);
    }
    for (const line of dest.extra ?? []) lines.push(`    ${line}`);
  }
  lines.push(Object.keys(spec.targets).length === 0 ? "targets: {}" : "targets:");
  for (const [name, target] of Object.entries(spec.targets)) {
    lines.push(
      `  ${name}:`,
      "    type: files",
      "    path: /srv/unused",
      `    destinations: [${target.destinations.join(", ")}]`,
    );
    if (target.retention) lines.push(`    retention: ${target.retention}`);
    if (target.maxRemoveShare !== undefined) lines.push(`    maxRemoveShare: ${target.maxRemoveShare}`);
  }
  return `${lines.join("\n")}\n`;
}

export function testConfig(spec: ConfigSpec): HavenConfig {
  return parseConfigText(configYaml(spec), "<test>", {});
}
