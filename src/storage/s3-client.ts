/**
 * The S3 client settings of one destination. Kept apart from the backend so the choices that make
 * S3-compatible services work (DESIGN.md, "Tests and services") are in one place and testable.
 */
import { readFile } from "node:fs/promises";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type { S3DestinationConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import type { Secret } from "../lib/secret";

export type S3Destination = S3DestinationConfig & { name: string };

/** A connection that has not opened in this long is a dead endpoint (TRANSIENT), not a hang. */
const CONNECTION_TIMEOUT_MS = 10_000;

/**
 * - Non-AWS endpoints (`endpoint` set) get path-style URLs by default and checksums only where an
 *   operation requires them: with the SDK's default checksums a streamed PutObject is stored with its
 *   aws-chunked framing as data by s3rver and several real S3-compatible services.
 * - No socket idle timeout: a restore may pause a download for minutes (backpressure from a slow
 *   database), which must not kill the connection.
 * - Credentials: accessKeyId + secretAccessKey (or secretAccessKeyFile, read when first needed), else
 *   the SDK's default chain (environment, shared files, instance roles).
 */
export function s3ClientConfig(dest: S3Destination): S3ClientConfig {
  const custom = dest.endpoint !== undefined;
  const credentials = credentialsOf(dest);
  return {
    region: dest.region,
    maxAttempts: dest.maxAttempts,
    forcePathStyle: dest.forcePathStyle ?? custom,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS },
    ...(custom
      ? {
          endpoint: dest.endpoint,
          requestChecksumCalculation: "WHEN_REQUIRED" as const,
          responseChecksumValidation: "WHEN_REQUIRED" as const,
        }
      : {}),
    ...(credentials ? { credentials } : {}),
  };
}

/** Commands whose body is backup data: megabytes per request. */
const DATA_COMMANDS = new Set(["PutObjectCommand", "UploadPartCommand"]);

/**
 * Over TLS, data requests are signed with `UNSIGNED-PAYLOAD` instead of the body's sha256, as the AWS
 * CLI and boto3 do for S3 over HTTPS: TLS already protects the body in transit, and hashing every part
 * for the signature was one more pass over all the data on the main thread. Over plain HTTP the body
 * hash stays in the signature, where it is the only integrity check in transit. (What is stored is
 * checked apart from this: size and sha256 are computed while streaming and compared on commit.)
 */
export function skipPayloadSigningOverTls(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as { protocol?: string; headers?: Record<string, string> };
      if (DATA_COMMANDS.has(context.commandName ?? "") && request.protocol === "https:" && request.headers) {
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      }
      return next(args);
    },
    { step: "build", name: "havenUnsignedPayloadOverTls" },
  );
}

/** "s3://bucket/prefix" for messages: no endpoint credentials, no keys. */
export function s3Location(dest: Pick<S3Destination, "bucket" | "prefix">): string {
  const prefix = dest.prefix.replace(/\/+$/, "");
  return prefix ? `s3://${dest.bucket}/${prefix}` : `s3://${dest.bucket}`;
}

interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

function credentialsOf(dest: S3Destination): (() => Promise<StaticCredentials>) | undefined {
  const hasSecret = dest.secretAccessKey !== undefined || dest.secretAccessKeyFile !== undefined;
  if (dest.accessKeyId === undefined && !hasSecret) return undefined;
  if (dest.accessKeyId === undefined || !hasSecret) {
    throw new HavenError(
      "CONFIG",
      `destination ${dest.name}: accessKeyId and secretAccessKey (or secretAccessKeyFile) go together`,
      {
        hint: `set both destinations.${dest.name}.accessKeyId and destinations.${dest.name}.secretAccessKey, or neither to use the AWS default credential chain`,
      },
    );
  }
  const accessKeyId = dest.accessKeyId;
  return async (): Promise<StaticCredentials> => {
    const secretAccessKey = await secretValue(
      dest.secretAccessKey,
      dest.secretAccessKeyFile,
      dest.name,
      "secretAccessKey",
    );
    const sessionToken = await secretValue(
      dest.sessionToken,
      dest.sessionTokenFile,
      dest.name,
      "sessionToken",
    );
    return {
      accessKeyId,
      secretAccessKey: secretAccessKey as string,
      ...(sessionToken ? { sessionToken } : {}),
    };
  };
}

async function secretValue(
  secret: Secret | undefined,
  file: string | undefined,
  destination: string,
  key: string,
): Promise<string | undefined> {
  if (secret) return secret.reveal();
  if (file === undefined) return undefined;
  try {
    return (await readFile(file, "utf8")).replace(/\r?\n$/, "");
  } catch (error) {
    throw new HavenError("CREDENTIALS", `destination ${destination}: cannot read ${key}File ${file}`, {
      hint: `check destinations.${destination}.${key}File: the file must exist and be readable by Haven`,
      cause: error,
    });
  }
}
