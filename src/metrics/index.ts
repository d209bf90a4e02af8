/** Prometheus metrics and the /metrics + /healthz HTTP endpoint. */
export * from "./registry";
export * from "./http";
