import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3rverHandle } from "../../src/lib/s3rver-process";
import { Secret } from "../../src/lib/secret";
import type { S3Destination } from "../../src/storage/s3-client";

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `${prefix}-`));
}

/** A resolved s3rver destination "primary" under a fresh prefix: small parts, so tests go multipart. */
export function s3rverDestination(
  s3: S3rverHandle,
  bucket: string,
  overrides: Partial<S3Destination> = {},
): S3Destination {
  return {
    name: "primary",
    type: "s3",
    bucket,
    prefix: `${uniqueName("p")}/`,
    region: "us-east-1",
    endpoint: s3.endpoint,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: new Secret(s3.secretAccessKey),
    partSizeMiB: 5,
    queueSize: 2,
    maxAttempts: 2,
    ...overrides,
  };
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

/**
 * Writes `dir`/haven.yaml. A config that names no `queuePrefix` gets a unique one: with the default,
 * test files running at once shared Redis keys, and one's target lock ("share", "app") made another's
 * backup "skipped: another run holds its lock".
 */
export async function writeConfigFile(dir: string, yaml: string): Promise<string> {
  const path = join(dir, "haven.yaml");
  // Added last, so the lines of `yaml` keep their numbers (tests assert file:line:col).
  const isolated = /^queuePrefix:/m.test(yaml)
    ? yaml
    : `${yaml.endsWith("\n") ? yaml : `${yaml}\n`}queuePrefix: ${uniqueName("haven-test")}\n`;
  await writeFile(path, isolated);
  return path;
}

/**
 * Writes `dir`/haven.yaml with one filesystem destination, "nas" (`dir`/nas, created here: Haven never
 * creates a destination's root), the default of every target, and `rest` (targets, operators...).
 */
export async function writeNasConfigFile(dir: string, rest: string): Promise<string> {
  await mkdir(join(dir, "nas"));
  return writeConfigFile(
    dir,
    `destinations:\n  nas: { type: filesystem, path: ${join(dir, "nas")} }\ndefaults: { destinations: [nas] }\n${rest}`,
  );
}
