/**
 * How a stream is cut into S3 multipart parts. Pure, so the memory bound can be checked without S3.
 *
 * S3 allows at most 10,000 parts of 5 MiB to 5 GiB each, and a put (multipart.ts) uses one part
 * size for a whole upload, decided before the first byte, because its part buffers are allocated
 * at that size. So the part size is grown up front:
 * - with `expectedSize` (exact, or an estimate such as the previous snapshot's size), to the smallest
 *   whole MiB at which 1.25 × expectedSize fits in 10,000 parts, never below the configured size;
 * - without it, the configured `partSizeMiB` is kept, which caps the object at 10,000 × partSize
 *   (78 GiB at the 8 MiB default). A stream that passes the cap fails as soon as it does, with a
 *   hint to raise partSizeMiB; memory never grows behind the operator's back.
 * Memory of a put: partSize × (queueSize + 1), a fixed pool of part buffers (one per concurrent
 * request, plus the part being filled), reused for the whole upload; 32 MiB at 8 MiB × 3.
 */
import { HavenError } from "../lib/errors";

const MiB = 1024 * 1024;
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PART_SIZE = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;
/** Room over an expected size, because hints are often estimates. */
const HINT_HEADROOM = 1.25;

export interface UploadPlan {
  /** Bytes per part (all but the last). */
  partSize: number;
  /** Parts uploaded concurrently. */
  queueSize: number;
  /** The largest body this plan can store: partSize × 10,000. */
  maxBytes: number;
}

export interface UploadPlanInput {
  /** Destination name, for messages. */
  destination: string;
  partSizeMiB: number;
  queueSize: number;
  expectedSize?: number | undefined;
}

export function planUpload(input: UploadPlanInput): UploadPlan {
  let partSize = Math.max(MIN_PART_SIZE, input.partSizeMiB * MiB);
  if (input.expectedSize !== undefined && input.expectedSize > 0) {
    const needed = Math.ceil((input.expectedSize * HINT_HEADROOM) / MAX_PARTS / MiB) * MiB;
    partSize = Math.max(partSize, needed);
  }
  if (partSize > MAX_PART_SIZE) {
    throw new HavenError(
      "PERMANENT",
      `an object of ${input.expectedSize ?? "?"} bytes is too large for S3 on destination ${input.destination} (at most 10,000 parts of 5 GiB)`,
      { hint: "split the target into several smaller ones" },
    );
  }
  return { partSize, queueSize: Math.max(1, input.queueSize), maxBytes: partSize * MAX_PARTS };
}

/** The error a put fails with when its body outgrows the plan. */
export function tooLargeError(destination: string, key: string, plan: UploadPlan): HavenError {
  return new HavenError(
    "PERMANENT",
    `${key} on destination ${destination} is larger than ${plan.maxBytes} bytes, the most ${MAX_PARTS.toLocaleString("en")} parts of ${plan.partSize / MiB} MiB can hold`,
    {
      hint: `raise destinations.${destination}.partSizeMiB (memory is about partSize × (queueSize + 1)), or pass the expected size so the part size grows automatically`,
    },
  );
}
