/** The monthly restore-test report: data from the bucket, HTML/text/JSON renderings, charts, delivery. */
export { collectMonth, reportDestination, summarise, type CollectMonthOptions } from "./collect";
export {
  runMonthlyReport,
  serialiseReport,
  composeMessage,
  standaloneHtml,
  type MonthlyReportContext,
  type MonthlyReportOptions,
  type MonthlyReportResult,
} from "./run";
export { renderCharts, chartSpecs, type ChartImage, type ChartSpec } from "./charts";
export { renderHtml, type RenderHtmlInput } from "./html";
export { renderText, type RenderTextInput } from "./text";
export {
  sendReport,
  reportRecipients,
  undeliveredError,
  type ReportMessage,
  type SendReportOptions,
  type SentReport,
} from "./email";
export { parseMonth, previousMonth, monthBounds } from "./month";
export type * from "./types";
export { REPORT_FORMAT_VERSION, TREND_MONTHS } from "./types";
