/** An S3 client built as the backend builds its own, recording every command it sends. */
import { S3Client } from "@aws-sdk/client-s3";
import { s3ClientConfig, type S3Destination } from "../../src/storage/s3-client";

export interface SentCommand {
  command: string;
  input: Record<string, unknown>;
  headers: Record<string, string>;
  /** The response's output, once it succeeded. */
  output?: Record<string, unknown>;
  /** Order numbers of the moments the command was sent and settled (one counter for both). */
  sentAt: number;
  settledAt?: number;
}

export function recordingClient(dest: S3Destination) {
  const client = new S3Client(s3ClientConfig(dest));
  const sent: SentCommand[] = [];
  let clock = 0;
  let inFlightParts = 0;
  let maxInFlightParts = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      const record: SentCommand = {
        command: String(context.commandName),
        input: args.input as Record<string, unknown>,
        headers: { ...request.headers },
        sentAt: clock++,
      };
      sent.push(record);
      const isPart = record.command === "UploadPartCommand";
      if (isPart) maxInFlightParts = Math.max(maxInFlightParts, ++inFlightParts);
      try {
        const result = await next(args);
        record.output = result.output as unknown as Record<string, unknown>;
        return result;
      } finally {
        record.settledAt = clock++;
        if (isPart) inFlightParts--;
      }
    },
    { step: "build", name: "recordCommands" },
  );
  return {
    client,
    sent,
    /** The commands named `command`, in the order they were sent. */
    sentOf: (command: string) => sent.filter((c) => c.command === command),
    maxInFlightParts: () => maxInFlightParts,
  };
}
