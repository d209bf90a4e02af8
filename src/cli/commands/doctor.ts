import { Command } from "commander";
import type { HavenConfig } from "../../config/types";
import { formatDuration } from "../../lib/duration";
import { errorParts, ExitCode, HavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import { checkIdentity } from "../../engine/identity-check";
import { checkQueueRedis } from "../../jobs/redis-health";
import { createStorage } from "../../storage";
import { createAdapter } from "../../targets";
import { commandConfig, commandLogger, printJson, printTable } from "../context";
import { outputOption } from "../output-option";

export interface DoctorRow {
  kind: "redis" | "target" | "destination" | "encryption";
  name: string;
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/**
 * How long one destination's or target's probe may take. Each has its own deadline: one budget for
 * the whole run let a server that never answers (a firewall dropping packets: the MariaDB client
 * waits for the OS's TCP timeout) use it up, and every probe after it then failed as "cancelled".
 */
export const PROBE_TIMEOUT_MS = 60_000;

/**
 * Probes the queues' Redis, every destination, this host's age identity and every target; never throws for a failing
 * probe, only reports it. `signal` cancels the whole run; each probe also stops at its own deadline.
 */
export async function runDoctor(
  config: HavenConfig,
  logger: Logger,
  signal: AbortSignal,
  options: { probeTimeoutMs?: number } = {},
): Promise<DoctorRow[]> {
  const timeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  const deadline = () => {
    const timeout = AbortSignal.timeout(timeoutMs);
    return { timeout, signal: AbortSignal.any([signal, timeout]) };
  };
  const timedOut = (kind: DoctorRow["kind"], name: string): DoctorRow => ({
    kind,
    name,
    check: "probe",
    ok: false,
    detail: `no answer within ${formatDuration(timeoutMs)}`,
    fix: "check that the server is up and reachable from this host (a firewall that drops packets makes connections hang)",
  });
  const rows: DoctorRow[] = [];
  const redisProbe = deadline();
  const redisChecks = await checkQueueRedis(config.redis, redisProbe.signal);
  if (redisProbe.timeout.aborted && !signal.aborted) rows.push(timedOut("redis", "queues"));
  else for (const check of redisChecks) rows.push({ kind: "redis", name: "queues", ...check });
  for (const destination of Object.values(config.destinations)) {
    const storage = createStorage(destination, logger, { retry: false });
    const probe = deadline();
    try {
      await storage.probe(probe.signal);
      rows.push({
        kind: "destination",
        name: destination.name,
        check: "reachable",
        ok: true,
        detail: storage.location,
      });
    } catch (error) {
      rows.push(
        probe.timeout.aborted && !signal.aborted
          ? timedOut("destination", destination.name)
          : {
              kind: "destination",
              name: destination.name,
              check: "reachable",
              ok: false,
              ...errorParts(error),
            },
      );
    } finally {
      await storage.close();
    }
  }
  const identity = await checkIdentity(config.encryption);
  if (identity !== undefined)
    rows.push({ kind: "encryption", name: "identity", check: "identity file", ...identity });
  for (const target of Object.values(config.targets)) {
    const deadlined = deadline();
    try {
      const probe = await createAdapter(target, logger).probe(deadlined.signal);
      // Checks cut short by the deadline say "cancelled"; the deadline is what happened.
      const stopped = deadlined.timeout.aborted && !signal.aborted;
      for (const check of probe.checks) {
        if (stopped && !check.ok) continue;
        rows.push({
          kind: "target",
          name: target.name,
          check: check.name,
          ok: check.ok,
          detail: check.detail,
          fix: check.hint,
        });
      }
      if (stopped) rows.push(timedOut("target", target.name));
    } catch (error) {
      rows.push({ kind: "target", name: target.name, check: "probe", ok: false, ...errorParts(error) });
    }
  }
  return rows;
}

export function doctorCommand(): Command {
  return new Command("doctor")
    .description(
      "probe the queues' Redis, every destination and every target, and say what works, what does not, and the fix",
    )
    .addOption(outputOption())
    .action(async (opts: { output: string }, command: Command) => {
      const config = await commandConfig(command);
      const rows = await runDoctor(config, commandLogger(command), new AbortController().signal);
      if (opts.output === "json") printJson(rows);
      else
        printTable(
          ["", "KIND", "NAME", "CHECK", "DETAIL", "FIX"],
          rows.map((r) => [r.ok ? "ok" : "FAIL", r.kind, r.name, r.check, r.detail, r.fix ?? ""]),
        );
      const failed = rows.filter((r) => !r.ok).length;
      if (failed > 0) {
        throw new HavenError("SOURCE_FAILED", `${failed} of ${rows.length} checks failed`, {
          hint: "apply the FIX of each failing row, then run haven doctor again",
          exitCode: ExitCode.FAILED,
        });
      }
    });
}
