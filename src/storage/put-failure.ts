/**
 * Which side made a put fail. A stream pipeline forwards one stream's error to every other stream
 * (the body is destroyed with the storage's error and vice versa), so the error a put finally sees
 * does not say where it started. Each side reports here as soon as it fails and the first report
 * wins: by causality the origin always reports before the errors it causes.
 */
import type { Readable } from "node:stream";
import { HavenError } from "../lib/errors";

export type FailureSource = "body" | "storage" | "cancelled";

export interface PutFailure {
  source: FailureSource;
  error: unknown;
}

export class FailureTracker {
  #first: PutFailure | undefined;
  #detach: (() => void)[] = [];

  /** Records the body's own error (registered before any pipeline, so it runs first). */
  watchBody(body: Readable): void {
    const onError = (error: unknown) => this.fail("body", error);
    body.once("error", onError);
    this.#detach.push(() => body.off("error", onError));
  }

  /** Calls `onAbort` once when `signal` aborts, after recording the cancellation. */
  watchSignal(signal: AbortSignal | undefined, onAbort: (reason: unknown) => void): void {
    if (!signal) return;
    const listener = () => {
      this.fail("cancelled", signal.reason);
      onAbort(signal.reason);
    };
    if (signal.aborted) {
      listener();
      return;
    }
    signal.addEventListener("abort", listener, { once: true });
    this.#detach.push(() => signal.removeEventListener("abort", listener));
  }

  fail(source: FailureSource, error: unknown): void {
    this.#first ??= { source, error };
  }

  get failure(): PutFailure | undefined {
    return this.#first;
  }

  dispose(): void {
    for (const detach of this.#detach.splice(0)) detach();
  }
}

/** The error a put rejects with after `what` was cancelled through its AbortSignal. */
export function cancelledError(what: string, reason: unknown): HavenError {
  return new HavenError("CANCELLED", `${what} was cancelled`, {
    hint: "nothing was stored; run it again when ready",
    cause: reason,
  });
}

/** The error that tears a stream pipeline down when a put's signal aborts. */
export function abortError(reason: unknown): Error {
  return Object.assign(new Error("The operation was aborted", { cause: reason }), { name: "AbortError" });
}

/** Where a put went, for its errors. */
interface PutPlace {
  name: string;
  location: string;
}

/** A create-only put found its key taken. */
export function alreadyExistsError(key: string, place: PutPlace): HavenError {
  return new HavenError("ALREADY_EXISTS", `${key} already exists on ${place.name} (${place.location})`, {
    hint: "create-only objects (manifests) are never overwritten; this run's id collided with an existing one, run it again",
  });
}

/**
 * What a failed put rejects with: the body's own error as it is (its source classifies it), a
 * cancellation, or the backend's error as `classify` makes it a HavenError.
 */
export function putError(
  error: unknown,
  failures: FailureTracker,
  key: string,
  place: PutPlace,
  classify: (error: unknown) => HavenError,
): unknown {
  const failure = failures.failure;
  if (failure?.source === "body") return failure.error;
  if (failure?.source === "cancelled") return cancelledError(`put ${key} on ${place.name}`, failure.error);
  const haven = classify(failure?.error ?? error);
  return haven.code === "ALREADY_EXISTS" ? alreadyExistsError(key, place) : haven;
}
