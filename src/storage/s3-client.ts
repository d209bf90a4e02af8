/**
 * The S3 client settings of one destination. Kept apart from the backend so the choices that make
 * S3-compatible services work (DESIGN.md, "Tests and services") are in one place and testable.
 */
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type { S3DestinationConfig } from "../config/types";
import { HavenError } from "../lib/errors";
import type { Secret } from "../lib/secret";
import type { StorageCapabilities } from "./types";

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

/** A part body is handed to TLS in slices of this size (see streamBodiesOverTls). */
export const TLS_BODY_SLICE = 256 * 1024;

interface RequestShape {
  protocol?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

function isDataOverTls(request: RequestShape, commandName: string | undefined): boolean {
  return DATA_COMMANDS.has(commandName ?? "") && request.protocol === "https:";
}

/** The two data-request tunings for TLS below; S3Backend applies them to the clients it owns. */
export function tuneDataRequestsOverTls(client: S3Client): void {
  skipPayloadSigningOverTls(client);
  streamBodiesOverTls(client);
}

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
      const request = args.request as RequestShape;
      if (isDataOverTls(request, context.commandName) && request.headers) {
        request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      }
      return next(args);
    },
    { step: "build", name: "havenUnsignedPayloadOverTls" },
  );
}

/**
 * Over TLS, a part is written to the socket in TLS_BODY_SLICE slices with backpressure instead of as
 * one buffer: a single write makes Node encrypt the whole part into native memory at once, a second
 * copy of every part in flight (measured here: ~30 MB of peak RSS with 4 parts of 8 MiB). The slices
 * are views of the part, not copies. Each attempt gets its own stream over the unchanged part, so a
 * retried request sends the whole part again; it runs after signing, which over TLS does not read
 * the body (UNSIGNED-PAYLOAD).
 */
export function streamBodiesOverTls(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as RequestShape;
      const body = request.body;
      if (!isDataOverTls(request, context.commandName) || !(body instanceof Uint8Array)) return next(args);
      if (body.length <= TLS_BODY_SLICE) return next(args);
      const perAttempt = Object.assign(
        Object.create(Object.getPrototypeOf(request) as object) as object,
        request,
        {
          body: Readable.from(slicesOf(body)),
        },
      );
      return next({ ...args, request: perAttempt });
    },
    { step: "finalizeRequest", priority: "low", name: "havenStreamBodyOverTls" },
  );
}

function* slicesOf(body: Uint8Array): Generator<Buffer> {
  for (let at = 0; at < body.length; at += TLS_BODY_SLICE) {
    yield Buffer.from(body.buffer, body.byteOffset + at, Math.min(TLS_BODY_SLICE, body.length - at));
  }
}

/**
 * createOnly: AWS S3 honours `If-None-Match: *` on PutObject and CompleteMultipartUpload, so
 * create-only puts are atomic there. Other services may ignore the header (s3rver does), so for a
 * custom endpoint the header is still sent but a stat check before the upload is what refuses an
 * existing key, with a race window between check and commit.
 */
export function s3Capabilities(dest: Pick<S3Destination, "endpoint" | "objectLock">): StorageCapabilities {
  return { createOnly: dest.endpoint === undefined, objectLock: dest.objectLock !== undefined };
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
