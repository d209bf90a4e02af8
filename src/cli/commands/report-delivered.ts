/**
 * `haven report --send` is what the `report-failed` alert tells the operator to run, so a delivery
 * from the CLI resolves that alert like the scheduled job's (src/alerts/report-delivery.ts). The
 * alert state is in the workers' Redis; when it does not answer, the report still counts as sent
 * (it was), with a warning that the alert, if open, stays open until the next delivered report.
 */
import type { HavenConfig } from "../../config/types";
import type { Logger } from "../../lib/logger";
import { connectRedisIfUp } from "../redis-if-up";

/** Resolves an open `report-failed` incident that the delivered report of `month` answers. */
export async function reportDelivered(config: HavenConfig, month: string, logger: Logger): Promise<void> {
  const { incidentManagerFor, resolveReportFailed } = await import("../../alerts");
  const redis = await connectRedisIfUp(config, logger, {
    connectionName: "haven-cli-report",
    withoutIt: "a report-failed alert, if open, stays open until the next delivered report",
  });
  if (!redis) return;
  const incidents = incidentManagerFor(config, redis, logger);
  try {
    if (await resolveReportFailed(incidents, month))
      logger.info({ month }, "the report-failed alert is resolved");
  } catch (error) {
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "could not resolve the report-failed alert; it stays open until the next delivered report",
    );
  } finally {
    await incidents.close();
    redis.disconnect();
  }
}
