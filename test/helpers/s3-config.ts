import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3rverHandle } from "../../src/lib/s3rver-process";

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `${prefix}-`));
}

/** YAML for an s3rver destination named "primary" (s3rver's fixed development credentials). */
export function s3DestinationYaml(s3: S3rverHandle, bucket: string, prefix = ""): string {
  return [
    "  primary:",
    "    type: s3",
    `    bucket: ${bucket}`,
    `    prefix: "${prefix}"`,
    `    endpoint: ${s3.endpoint}`,
    `    accessKeyId: ${s3.accessKeyId}`,
    `    secretAccessKey: ${s3.secretAccessKey}`,
    "    partSizeMiB: 5",
    "    queueSize: 2",
  ].join("\n");
}

export async function writeConfigFile(dir: string, yaml: string): Promise<string> {
  const path = join(dir, "haven.yaml");
  await writeFile(path, yaml);
  return path;
}
