/** RPO/RTO evaluation: pure policy functions and the loader that reads their inputs from a destination. */
export * from "./evaluate";
export * from "./inputs";
export type * from "./types";
export { leastSquares, predict, relativeSpread, type LinearFit } from "./regression";
