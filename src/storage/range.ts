import { HavenError } from "../lib/errors";

/** An inclusive byte range [start, end] as GetOptions takes it: integers, 0 <= start <= end. */
export function assertValidRange(range: readonly [number, number]): void {
  const [start, end] = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new HavenError("PERMANENT", `invalid byte range [${start}, ${end}]`, {
      hint: "a range is [first byte, last byte], inclusive, with 0 <= first <= last; this is a bug in the caller",
    });
  }
}

/** The HTTP Range header value for an inclusive range. */
export function httpRange(range: readonly [number, number]): string {
  return `bytes=${range[0]}-${range[1]}`;
}
