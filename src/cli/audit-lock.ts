/**
 * The lock a CLI command's audit appends take. An append reads the head of the trail, then writes
 * the next record: a command appending while `serve`, a worker or another command appends would
 * chain to the same head and fork the trail, which `haven audit verify` then reports as tampering.
 * So commands append under the same Redis lock (and approvals are used under the same request lock)
 * as those processes, whenever that Redis answers.
 *
 * It connects at the command's first append, once per process: a command that writes no record
 * waits for nothing. When Redis does not answer (a disaster, a laptop with only the bucket), the
 * command appends without the lock, with a warning: a missing record would cost more than the
 * chance of a fork, which `audit verify` reports and which loses no record.
 */
import type { Redis } from "ioredis";
import { openAudit, type AuditHandle } from "../app/audit";
import type { HavenConfig } from "../config/types";
import type { Logger } from "../lib/logger";
import { connectRedisIfUp } from "./redis-if-up";

let connecting: Promise<Redis | undefined> | undefined;

/** The connection the audit lock is taken in, or undefined (warned) when Redis does not answer. */
export async function auditLockRedis(config: HavenConfig, logger: Logger): Promise<Redis | undefined> {
  connecting ??= connectRedisIfUp(config, logger, {
    connectionName: "haven-cli-audit",
    withoutIt:
      "audit records are appended without the lock (a record appended by another process at the same moment would fork the trail)",
  });
  const redis = await connecting;
  // Redis went away since the first append (a long restore): a record without the lock beats none.
  if (redis && redis.status !== "ready") {
    logger.warn(
      { status: redis.status },
      "Redis stopped answering: this audit record is appended without the lock",
    );
    return undefined;
  }
  return redis;
}

/** `{ redis }` for `audit`, `tryAudit` and `auditPrune`: the lock when Redis answers. */
export async function auditLockOptions(config: HavenConfig, logger: Logger): Promise<{ redis?: Redis }> {
  const redis = await auditLockRedis(config, logger);
  return redis ? { redis } : {};
}

/** The audit log for a command's appends (and its approvals), under the lock when Redis answers. */
export async function openCommandAudit(
  config: HavenConfig,
  logger: Logger,
): Promise<AuditHandle & { approvalLock: { redis?: Redis; lockPrefix: string } }> {
  const { redis } = await auditLockOptions(config, logger);
  return {
    ...openAudit(config, logger, redis),
    approvalLock: { ...(redis ? { redis } : {}), lockPrefix: config.queuePrefix },
  };
}

/** Disconnects, once the command is done; the next command in this process connects again. */
export async function closeAuditLock(): Promise<void> {
  const pending = connecting;
  connecting = undefined;
  (await pending)?.disconnect();
}
