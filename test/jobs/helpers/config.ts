/** Test configs for the jobs layer, parsed by the real config loader. */
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { parseConfigText } from "../../../src/config/load";
import type { HavenConfig } from "../../../src/config/types";

export interface TestTarget {
  schedule?: { daily?: string; weekly?: string; monthly?: string };
  verifySchedule?: string;
}

export interface TestConfigOptions {
  timezone?: string;
  targets: Record<string, TestTarget>;
  monthlyReport?: string;
  lockTtl?: string;
  concurrency?: number;
}

/** YAML for `options`: `files` targets (never read here) and a filesystem destination. */
export function configYaml(options: TestConfigOptions): string {
  const lines = [
    `redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`,
    `timezone: ${options.timezone ?? "UTC"}`,
    "destinations:",
    `  local: { type: filesystem, path: ${tmpdir()}/haven-jobs-unused }`,
    "defaults:",
    "  destinations: [local]",
    "workers:",
    `  lockTtl: ${options.lockTtl ?? "60s"}`,
    `  concurrency: ${options.concurrency ?? 2}`,
    "targets:",
  ];
  for (const [name, target] of Object.entries(options.targets)) {
    lines.push(`  ${name}:`, "    type: files", `    path: ${tmpdir()}/haven-jobs-share`);
    const schedule = Object.entries(target.schedule ?? {}).map(([tier, cron]) => `${tier}: "${cron}"`);
    lines.push(`    schedule: { ${schedule.join(", ")} }`);
    if (target.verifySchedule) lines.push(`    verify: { schedule: "${target.verifySchedule}" }`);
  }
  if (options.monthlyReport) {
    lines.push(
      "alerts:",
      "  email: { smtp: { host: smtp.example.com }, from: haven@example.com, to: [ops@example.com] }",
      "reports:",
      `  monthly: { to: [it@example.com], schedule: "${options.monthlyReport}" }`,
    );
  }
  return lines.join("\n") + "\n";
}

export function testConfig(options: TestConfigOptions): HavenConfig {
  return parseConfigText(configYaml(options), "<jobs-test>");
}

/** A Redis key prefix of its own per test file, so files never see each other's queues. */
export function uniquePrefix(label: string): string {
  return `haven-test-${label}-${randomBytes(4).toString("hex")}`;
}
