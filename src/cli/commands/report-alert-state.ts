/**
 * The alert state (in the workers' Redis) that a report made by hand shares with the scheduled one:
 * - what it reads: the open incidents and when the watchdog first saw each target, so a target
 *   added this month is judged from then, as the scheduled report judges it, not as missing every
 *   backup since the 1st;
 * - what it writes: `haven report --send` is what the `report-failed` alert tells the operator to
 *   run, so a delivery resolves that alert like the scheduled job's (src/alerts/report-delivery.ts).
 * When Redis does not answer the report is still made from the bucket, with a warning: open
 * incidents are then "unknown", every target is judged from the 1st (the safe side), and an open
 * `report-failed` alert stays open until the next delivered report.
 */
import type { Redis } from "ioredis";
import type { IncidentManager } from "../../alerts";
import type { HavenConfig } from "../../config/types";
import type { Logger } from "../../lib/logger";
import type { MonthlyReportContext } from "../../report/run";
import { connectRedisIfUp } from "../redis-if-up";

export interface ReportAlertState {
  /** The incidents and first-seen times to make the report with (empty when Redis does not answer). */
  context: Pick<MonthlyReportContext, "openIncidents" | "firstSeen">;
  /** Resolves an open `report-failed` incident that the delivered report of `month` answers. */
  delivered(month: string): Promise<void>;
  close(): Promise<void>;
}

export async function openReportAlertState(config: HavenConfig, logger: Logger): Promise<ReportAlertState> {
  const redis = await connectRedisIfUp(config, logger, {
    connectionName: "haven-cli-report",
    withoutIt:
      "the report leaves out open incidents and judges every target from the 1st; a report-failed alert, if open, stays open",
  });
  if (!redis) {
    const nothing = () => Promise.resolve();
    return { context: {}, delivered: nothing, close: nothing };
  }
  const alerts = await import("../../alerts");
  const incidents = alerts.incidentManagerFor(config, redis, logger);
  return {
    context: await readContext(config, redis, incidents, logger),
    delivered: (month) => quietly(() => alerts.resolveReportFailed(incidents, month), month, logger),
    async close() {
      await incidents.close();
      redis.disconnect();
    },
  };
}

async function readContext(
  config: HavenConfig,
  redis: Redis,
  incidents: IncidentManager,
  logger: Logger,
): Promise<ReportAlertState["context"]> {
  try {
    const { FirstSeen } = await import("../../app/first-seen");
    return {
      openIncidents: await incidents.openIncidents(),
      firstSeen: await new FirstSeen(redis, config.queuePrefix).read(),
    };
  } catch (error) {
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "could not read the alert state: the report leaves out open incidents and judges every target from the 1st; check that redis: in the config answers",
    );
    return {};
  }
}

/** Resolves report-failed through `resolve`; a failure is a warning: the report was delivered. */
async function quietly(resolve: () => Promise<boolean>, month: string, logger: Logger): Promise<void> {
  try {
    if (await resolve()) logger.info({ month }, "the report-failed alert is resolved");
  } catch (error) {
    logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      "could not resolve the report-failed alert; it stays open until the next delivered report",
    );
  }
}
