/**
 * RTO: the largest tolerated restore time, measured by restore tests. A pure function of the restore-test
 * history, the snapshot history and `now` (HOUSE_STYLE practice 9).
 *
 * Seed policy (DESIGN.md): when a critical application server fails, the application is back within
 * 4 hours, which is the default `rto` (`defaults.rto: 4h`, per target `rto:`). The same policy wants the
 * backed-up data usable within 8 hours; Haven measures the restore of the data alone, so a target whose
 * data must be usable within 8 h but whose service must be back within 4 h is configured with the
 * stricter of the two that its restore path has to meet (usually `rto: 4h`).
 *
 * Status
 * - unknown: no restore test has been recorded: nothing proves the target restorable in time.
 * - breached: the newest restore test failed (the RTO cannot be shown to hold), or it passed but took
 *   longer than the RTO.
 * - at-risk: the newest passed test, or a forecast, reaches `AT_RISK_FRACTION` (80 %) of the RTO.
 * - ok: otherwise.
 *
 * Forecast model (restore time grows with data, so the last measurement understates the next one)
 * 1. Size model: with at least `MIN_FIT_POINTS` passed restore tests whose snapshot sizes differ by more
 *    than `FLAT_SIZE_SPREAD`, fit `ms = a + b·plainSize` by least squares. When b > 0, evaluate it at the
 *    newest snapshot's size and at the size trend `FORECAST_HORIZON_MS` (30 days) out, itself a least
 *    squares fit of `plainSize = c + d·finishedAt` over the snapshot history (never below the newest size).
 * 2. Time model, when sizes are flat or unknown, or the size slope is not positive (the size does not
 *    explain the time): fit `ms = a + b·finishedAt` over the passed tests and, when b > 0, evaluate it
 *    30 days out. This catches slower storage or a slower restore path at constant size.
 * Models are only extrapolated upward (positive slope): a shrinking trend never lowers the risk below
 * the last measurement. `forecastMs` is the highest forecast; `forecasts` lists each with its basis.
 */
import { formatDuration } from "../lib/duration";
import { leastSquares, predict, relativeSpread } from "./regression";
import type { RestoreTestPoint, RtoEvaluation, RtoForecast, SnapshotPoint } from "./types";

/** Fraction of the RTO from which a measurement or forecast is "at risk". */
export const AT_RISK_FRACTION = 0.8;
/** How far ahead the size and time trends are extrapolated. */
export const FORECAST_HORIZON_MS = 30 * 24 * 60 * 60 * 1000;
/** Fewer points than this make no trend: two points always fit a line exactly. */
export const MIN_FIT_POINTS = 3;
/** Sizes within 10 % of each other are "flat": too close to separate size from noise. */
export const FLAT_SIZE_SPREAD = 0.1;

export interface RtoInput {
  target: string;
  rtoMs: number;
  restoreTests: readonly RestoreTestPoint[];
  /** Snapshot history, for the newest size and the size trend. Optional: without it only the time model runs. */
  snapshots?: readonly SnapshotPoint[];
  now: Date;
}

export function evaluateRto(input: RtoInput): RtoEvaluation {
  const { target, rtoMs, now } = input;
  const tests = [...input.restoreTests].sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime());
  const base = { target, rtoMs };
  const newest = tests.at(-1);
  if (!newest) {
    return {
      ...base,
      status: "unknown",
      lastMs: null,
      forecastMs: null,
      forecasts: [],
      since: null,
      reason: `no restore test of ${target} yet: nothing shows it can be restored within ${formatDuration(rtoMs)}`,
    };
  }

  const passed = tests.filter((t) => t.result === "passed");
  const lastMs = passed.at(-1)?.totalMs ?? null;
  const forecasts = forecastRestoreTimes(passed, input.snapshots ?? [], now);
  const forecastMs = forecasts.length > 0 ? Math.max(...forecasts.map((f) => f.ms)) : null;
  const result = { ...base, lastMs, forecastMs, forecasts };

  if (newest.result === "failed") {
    return {
      ...result,
      status: "breached",
      since: newest.finishedAt,
      reason: `the newest restore test (snapshot ${newest.snapshotId}) failed: the RTO of ${formatDuration(rtoMs)} cannot be shown to hold`,
    };
  }
  if (newest.totalMs > rtoMs) {
    return {
      ...result,
      status: "breached",
      since: newest.finishedAt,
      reason: `the newest restore test took ${formatDuration(newest.totalMs)}, over the RTO of ${formatDuration(rtoMs)}`,
    };
  }
  const threshold = AT_RISK_FRACTION * rtoMs;
  if (newest.totalMs >= threshold) {
    return {
      ...result,
      status: "at-risk",
      since: null,
      reason: `the newest restore test took ${formatDuration(newest.totalMs)}, ${percent(newest.totalMs, rtoMs)} of the RTO of ${formatDuration(rtoMs)}`,
    };
  }
  if (forecastMs !== null && forecastMs >= threshold) {
    return {
      ...result,
      status: "at-risk",
      since: null,
      reason: `restore time is forecast to reach ${formatDuration(forecastMs)} (${percent(forecastMs, rtoMs)} of the RTO of ${formatDuration(rtoMs)}; last measured ${formatDuration(newest.totalMs)})`,
    };
  }
  return {
    ...result,
    status: "ok",
    since: null,
    reason:
      forecastMs === null
        ? `the newest restore test took ${formatDuration(newest.totalMs)}, within the RTO of ${formatDuration(rtoMs)}`
        : `the newest restore test took ${formatDuration(newest.totalMs)} and the forecast is ${formatDuration(forecastMs)}, within the RTO of ${formatDuration(rtoMs)}`,
  };
}

/** The model described at the top of this file. `passed` is sorted oldest first. */
export function forecastRestoreTimes(
  passed: readonly RestoreTestPoint[],
  snapshots: readonly SnapshotPoint[],
  now: Date,
): RtoForecast[] {
  const horizon = now.getTime() + FORECAST_HORIZON_MS;
  const sized = passed.filter((t): t is RestoreTestPoint & { plainSize: number } => (t.plainSize ?? 0) > 0);
  const forecasts: RtoForecast[] = [];

  if (sized.length >= MIN_FIT_POINTS && relativeSpread(sized.map((t) => t.plainSize)) > FLAT_SIZE_SPREAD) {
    const bySize = leastSquares(sized.map((t) => [t.plainSize, t.totalMs] as const));
    if (bySize && bySize.slope > 0) {
      const newestSize = newestPlainSize(snapshots) ?? (sized.at(-1) as { plainSize: number }).plainSize;
      forecasts.push({
        model: "size",
        basis: "newest-size",
        atSize: newestSize,
        ms: predict(bySize, newestSize),
      });
      const trendSize = sizeTrend(snapshots, horizon);
      if (trendSize !== null && trendSize > newestSize) {
        forecasts.push({
          model: "size",
          basis: "size-trend",
          atSize: trendSize,
          ms: predict(bySize, trendSize),
        });
      }
      return forecasts.map(roundForecast);
    }
  }

  if (passed.length >= MIN_FIT_POINTS) {
    const byTime = leastSquares(passed.map((t) => [t.finishedAt.getTime(), t.totalMs] as const));
    if (byTime && byTime.slope > 0) {
      forecasts.push({
        model: "time",
        basis: "date",
        atTime: new Date(horizon),
        ms: predict(byTime, horizon),
      });
    }
  }
  return forecasts.map(roundForecast);
}

function newestPlainSize(snapshots: readonly SnapshotPoint[]): number | null {
  let newest: SnapshotPoint | null = null;
  for (const s of snapshots) {
    if ((s.plainSize ?? 0) <= 0) continue;
    if (!newest || s.finishedAt.getTime() > newest.finishedAt.getTime()) newest = s;
  }
  return newest?.plainSize ?? null;
}

/** Plain size the snapshot history points to at `at`; null without enough history. */
function sizeTrend(snapshots: readonly SnapshotPoint[], at: number): number | null {
  const points = snapshots
    .filter((s) => (s.plainSize ?? 0) > 0)
    .map((s) => [s.finishedAt.getTime(), s.plainSize as number] as const);
  if (points.length < MIN_FIT_POINTS) return null;
  const fit = leastSquares(points);
  return fit && fit.slope > 0 ? predict(fit, at) : null;
}

function roundForecast(forecast: RtoForecast): RtoForecast {
  return {
    ...forecast,
    ms: Math.max(0, Math.round(forecast.ms)),
    ...(forecast.atSize === undefined ? {} : { atSize: Math.round(forecast.atSize) }),
  };
}

function percent(part: number, whole: number): string {
  return `${Math.round((part / whole) * 100)} %`;
}
