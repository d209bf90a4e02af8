/** Alerts: events, incidents (open once, remind, resolve) and the channels that carry them. */
export * from "./events";
export * from "./conditions";
export * from "./message";
export * from "./deliver";
export * from "./incidents";
export * from "./channels/index";
export * from "./maintenance-conditions";
export * from "./report-delivery";
export * from "./for-config";
