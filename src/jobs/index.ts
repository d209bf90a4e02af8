/**
 * The jobs layer: BullMQ queues, job schedulers from the config, the per-target lock, workers that run
 * injected processors, and the CLI's enqueue-and-follow. See docs/ARCHITECTURE.md for how it fits.
 */
export {
  connectRedis,
  describeRedisUrl,
  redisOptions,
  type ConnectRedisOptions,
  type ConnectionRole,
} from "./connection";
export { jobInfo, type JobContext, type JobInfo } from "./context";
export { enqueueBackup, waitForResult, type EnqueueOptions, type WaitOptions } from "./enqueue";
export {
  decodeFailure,
  encodeFailure,
  errorOfFailedResult,
  isRetryable,
  toJobError,
  willRetry,
} from "./failures";
export {
  isTargetLocked,
  PRUNE_LOCK_OWNER,
  targetLockKey,
  withTargetLock,
  type TargetLockOptions,
} from "./lock";
export * from "./names";
export { DEFAULT_RETRY, jobOptions, type HavenJobOptions, type RetryPolicy } from "./policy";
export { openQueues, type HavenQueues, type OpenQueuesOptions } from "./queues";
export {
  CLEANUP_PATTERN,
  WATCHDOG_PATTERN,
  desiredSchedules,
  planSchedules,
  reconcileSchedules,
  type ExistingSchedule,
  type SchedulePlan,
  type ScheduleSpec,
  type ScheduleUpdate,
} from "./schedules";
export { installShutdown, type Closable, type InstallShutdownOptions } from "./shutdown";
export {
  startWorkers,
  type CloseOptions,
  type JobProcessor,
  type Processors,
  type StartWorkersOptions,
  type WorkersHandle,
} from "./workers";
