/**
 * Haven's four BullMQ queues, opened together on one Redis connection under one key prefix.
 */
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { BackupResult } from "../engine/types";
import {
  DEFAULT_PREFIX,
  QUEUE_KINDS,
  QUEUE_NAMES,
  type BackupJobData,
  type MaintenanceJobData,
  type QueueKind,
  type ReportJobData,
  type VerifyJobData,
} from "./names";

export interface HavenQueues {
  /** The Redis key prefix all four queues live under. */
  readonly prefix: string;
  readonly backup: Queue<BackupJobData, BackupResult>;
  readonly verify: Queue<VerifyJobData>;
  readonly maintenance: Queue<MaintenanceJobData>;
  readonly report: Queue<ReportJobData>;
  /** Closes the queues; the connection stays open (its owner closes it). */
  close(): Promise<void>;
}

export interface OpenQueuesOptions {
  /** Redis key prefix; default `haven`. Several Haven installations can share a Redis with distinct prefixes. */
  prefix?: string;
}

/**
 * Opens the queues on `connection` (from `connectRedis`). BullMQ reuses the connection for queue
 * commands and never closes it: the caller does, after `close()`.
 */
export function openQueues(connection: Redis, options: OpenQueuesOptions = {}): HavenQueues {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const backup = new Queue<BackupJobData, BackupResult>(QUEUE_NAMES.backup, { connection, prefix });
  const verify = new Queue<VerifyJobData>(QUEUE_NAMES.verify, { connection, prefix });
  const maintenance = new Queue<MaintenanceJobData>(QUEUE_NAMES.maintenance, { connection, prefix });
  const report = new Queue<ReportJobData>(QUEUE_NAMES.report, { connection, prefix });
  const queues = { backup, verify, maintenance, report };
  return {
    prefix,
    ...queues,
    async close() {
      await Promise.all(QUEUE_KINDS.map((kind) => queues[kind].close()));
    },
  };
}

/** The queue of a kind, typed loosely, for code that treats all queues alike (plans, cleanup). */
export function queueOf(queues: HavenQueues, kind: QueueKind): Queue {
  return queues[kind] as Queue;
}
