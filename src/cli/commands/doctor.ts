import { Command } from "commander";
import type { HavenConfig } from "../../config/types";
import { errorParts, ExitCode, HavenError } from "../../lib/errors";
import type { Logger } from "../../lib/logger";
import { checkIdentity } from "../../engine/identity-check";
import { createStorage } from "../../storage";
import { createAdapter } from "../../targets";
import { commandConfig, commandLogger, printJson, printTable } from "../context";
import { outputOption } from "../output-option";

export interface DoctorRow {
  kind: "target" | "destination" | "encryption";
  name: string;
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/**
 * Probes every destination, this host's age identity and every target; never throws for a failing
 * probe, only reports it.
 */
export async function runDoctor(
  config: HavenConfig,
  logger: Logger,
  signal: AbortSignal,
): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [];
  for (const destination of Object.values(config.destinations)) {
    const storage = createStorage(destination, logger, { retry: false });
    try {
      await storage.probe(signal);
      rows.push({
        kind: "destination",
        name: destination.name,
        check: "reachable",
        ok: true,
        detail: storage.location,
      });
    } catch (error) {
      rows.push({
        kind: "destination",
        name: destination.name,
        check: "reachable",
        ok: false,
        ...errorParts(error),
      });
    } finally {
      await storage.close();
    }
  }
  const identity = await checkIdentity(config.encryption);
  if (identity !== undefined)
    rows.push({ kind: "encryption", name: "identity", check: "identity file", ...identity });
  for (const target of Object.values(config.targets)) {
    try {
      const probe = await createAdapter(target, logger).probe(signal);
      for (const check of probe.checks) {
        rows.push({
          kind: "target",
          name: target.name,
          check: check.name,
          ok: check.ok,
          detail: check.detail,
          fix: check.hint,
        });
      }
    } catch (error) {
      rows.push({ kind: "target", name: target.name, check: "probe", ok: false, ...errorParts(error) });
    }
  }
  return rows;
}

export function doctorCommand(): Command {
  return new Command("doctor")
    .description("probe every target and destination and say what works, what does not, and the fix")
    .addOption(outputOption())
    .action(async (opts: { output: string }, command: Command) => {
      const config = await commandConfig(command);
      const rows = await runDoctor(config, commandLogger(command), AbortSignal.timeout(60_000));
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
