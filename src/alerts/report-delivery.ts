/**
 * A monthly report reached its readers: end the `report-failed` incident it answers. Whoever sent
 * it calls this: the scheduled report job (each BullMQ attempt, retries included) and
 * `haven report --send`, which the alert tells the operator to run.
 */
import type { AlertEvent } from "./events";
import type { IncidentManager } from "./incidents";
import { deliveryEndsReportFailure, REPORT_FAILED_KEY } from "./maintenance-conditions";

/** Resolves `report-failed` when the report of `month` answers it; true when it did. */
export async function resolveReportFailed(incidents: IncidentManager, month: string): Promise<boolean> {
  const onlyIf = (event: AlertEvent) => deliveryEndsReportFailure(event, month);
  return (await incidents.clear(REPORT_FAILED_KEY, { onlyIf })).resolved;
}
