/** The worker's hourly maintenance job (copies, prune, leftovers), run in this process as a worker runs it. */
import type { Redis } from "ioredis";
import { Monitor } from "../../../src/app/monitoring";
import { createProcessors } from "../../../src/app/processors";
import type { HavenConfig } from "../../../src/config/types";
import { silentLogger } from "../../../src/lib/logger";

/** Runs the cleanup with `config` (the worker's); resolves with the job's error, undefined when none. */
export async function hourlyCleanup(config: HavenConfig, redis: Redis): Promise<unknown> {
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    const processors = createProcessors(config, monitor, redis);
    return await processors.maintenance!(
      { kind: "cleanup", requestedBy: "scheduler" },
      {
        logger: silentLogger,
        signal: new AbortController().signal,
        onProgress: () => undefined,
        reportProgress: () => undefined,
        job: { id: "repeat:maintenance:cleanup:1", queue: "maintenance", attempt: 1, maxAttempts: 1 },
      },
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
  } finally {
    await monitor.close();
  }
}
