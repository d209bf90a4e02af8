/**
 * `npm run demo`: Haven's main job on embedded defaults, on this machine, with no other setup.
 * A sample share is backed up through the job queue by a worker into an S3-compatible endpoint
 * (s3rver on loopback), listed from the bucket, restored elsewhere and compared byte for byte.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRuntime } from "../app/runtime";
import { runQueuedBackup } from "../cli/commands/queued";
import { listSnapshotRefs } from "../catalog/catalog";
import { parseConfigText } from "../config/load";
import { runRestore } from "../engine/restore";
import { primaryStorage } from "../engine/backup";
import { describeError } from "../lib/errors";
import { createLogger } from "../lib/logger";
import { startS3rver } from "../lib/s3rver-process";
import { compareTrees } from "../lib/tree-compare";
import { demoRedis } from "./redis";
import { writeSampleShare } from "./sample";

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.HAVEN_LOG_LEVEL ?? "warn" });
  const signal = new AbortController().signal;
  const work = await mkdtemp(join(tmpdir(), "haven-demo-"));
  const redis = await demoRedis();
  const s3 = await startS3rver({ buckets: ["haven-demo"] });
  const started = Date.now();
  try {
    const share = join(work, "share");
    const sample = await writeSampleShare(share);
    const config = parseConfigText(
      `
redis: ${redis.url}
queuePrefix: haven-demo-${randomBytes(3).toString("hex")}
destinations:
  primary:
    type: s3
    bucket: haven-demo
    endpoint: ${s3.endpoint}
    accessKeyId: ${s3.accessKeyId}
    secretAccessKey: ${s3.secretAccessKey}
targets:
  sample-share:
    type: files
    path: ${JSON.stringify(share)}
    destinations: [primary]
    schedule: { daily: "30 1 * * *", weekly: "0 3 * * 0", monthly: "0 4 1 * *" }
`,
      join(work, "haven.yaml"),
    );
    const runtime = await startRuntime(config, { mode: "serve", logger, installSignals: false, http: false });
    try {
      const backup = await runQueuedBackup(
        config,
        { target: "sample-share", tier: "manual", requestedBy: "demo" },
        { logger, signal },
      );
      if (backup.state !== "committed")
        throw new Error(`backup ended ${backup.state}: ${backup.error?.message}`);
      const storage = primaryStorage(config, config.targets["sample-share"]!, { logger, signal });
      const listed = await listSnapshotRefs(storage, "sample-share").finally(() => storage.close());
      const restoredTo = join(work, "restored");
      const restore = await runRestore(
        config,
        { target: "sample-share", snapshot: backup.snapshotId, to: { kind: "path", path: restoredTo } },
        { logger, signal },
      );
      const differences = await compareTrees(share, restoredTo);
      if (differences.length > 0) throw new Error(`restored tree differs:\n  ${differences.join("\n  ")}`);
      const schedulers = (runtime.plan?.create.length ?? 0) + (runtime.plan?.unchanged.length ?? 0);
      process.stdout.write(
        [
          "haven demo: ok",
          `  redis        ${redis.private ? "private redis-server" : "existing"} ${redis.url}, ${schedulers} job schedulers applied`,
          `  destination  s3rver ${s3.endpoint} (bucket haven-demo)`,
          `  backup       ${sample.files} files, ${sample.bytes} bytes -> snapshot ${backup.snapshotId} (${backup.storedBytes} bytes stored, zstd)`,
          `  snapshots    ${listed.length} listed from the bucket`,
          `  restore      ${restore.stats.files} files in ${restore.seconds.toFixed(2)} s, identical to the source`,
          `  total        ${((Date.now() - started) / 1000).toFixed(1)} s`,
          "",
        ].join("\n"),
      );
    } finally {
      // Leave no demo schedulers behind in a shared Redis.
      for (const spec of runtime.plan?.create ?? []) {
        await runtime.queues[spec.queue].removeJobScheduler(spec.id).catch(() => undefined);
      }
      await runtime.close();
    }
  } finally {
    await s3.stop();
    await redis.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`haven demo failed: ${describeError(error)}\n`);
    process.exit(1);
  },
);
