import { Command } from "commander";
import { listSnapshotRefs, loadManifests } from "../../catalog/catalog";
import { mainObject } from "../../catalog/manifest";
import { describeError, ExitCode, HavenError } from "../../lib/errors";
import { createStorage } from "../../storage";
import type { NamedDestination } from "../../config/types";
import { TARGET_NAME, TARGET_NAME_RULE } from "../../config/schema";
import { destinationOrThrow } from "../../engine/backup";
import { authorize } from "../../operators";
import { commandConfig, commandLogger, commandOperator, printJson, printTable } from "../context";
import { outputOption } from "../output-option";
import { formatBytes } from "../progress";

export function snapshotsCommand(): Command {
  return new Command("snapshots")
    .description("list snapshots, read from the destinations themselves (works without Redis)")
    .argument("[target]", "only this target")
    .addOption(outputOption())
    .option("--from <destination>", "only this destination")
    .action(async (target: string | undefined, opts: { output: string; from?: string }, command: Command) => {
      const config = await commandConfig(command);
      authorize(await commandOperator(command, config), "list");
      const logger = commandLogger(command);
      if (target !== undefined) assertTargetName(target);
      // A mistyped --from listed nothing and said "no snapshots": in a disaster, a lie about the copy.
      const destinations: NamedDestination[] = opts.from
        ? [destinationOrThrow(config, opts.from)]
        : Object.values(config.destinations);
      const rows: Array<Record<string, unknown>> = [];
      // A destination that cannot be read (a bucket down, a share not mounted) must not hide what the
      // others hold: in a disaster that listing is what the operator restores from.
      const unread: string[] = [];
      for (const destination of destinations) {
        const storage = createStorage(destination, logger);
        try {
          const loaded = await loadManifests(storage, await listSnapshotRefs(storage, target));
          for (const { ref, manifest, error } of loaded) {
            rows.push(
              manifest
                ? {
                    target: manifest.target,
                    id: manifest.id,
                    destination: destination.name,
                    state: manifest.state,
                    tiers: manifest.tiers,
                    startedAt: manifest.startedAt,
                    finishedAt: manifest.finishedAt,
                    plainSize: mainObject(manifest).plainSize,
                    storedSize: manifest.payload.reduce((n, o) => n + o.size, 0),
                    encrypted: manifest.payload.some((o) => o.encryption !== null),
                    warnings: manifest.warnings.length,
                  }
                : {
                    target: ref.target,
                    id: ref.id,
                    destination: destination.name,
                    state: "unreadable",
                    error,
                  },
            );
          }
        } catch (error) {
          if (destinations.length === 1) throw error;
          unread.push(destination.name);
          process.stderr.write(
            `haven: destination ${destination.name} could not be read: ${describeError(error)}\n`,
          );
        } finally {
          await storage.close();
        }
      }
      // A target the config lacks may be one removed from it, whose snapshots are still there (and
      // listed); with none either, it is most likely a typo, which "no snapshots of it" would hide.
      if (target !== undefined && rows.length === 0 && unread.length === 0 && !config.targets[target]) {
        throw new HavenError(
          "USAGE",
          `no target named "${target}" in ${config.source}, and no snapshots of it`,
          {
            hint: `known targets: ${Object.keys(config.targets).join(", ") || "none"}`,
          },
        );
      }
      if (opts.output === "json") printJson(rows);
      else if (rows.length === 0) process.stdout.write(`no snapshots${target ? ` of ${target}` : ""}\n`);
      else printRows(rows);
      // Printed first, then failed: a script must not take a partial list for the whole (as status).
      if (unread.length > 0) {
        throw new HavenError("TRANSIENT", `the list is partial: ${unread.join(", ")} could not be read`, {
          hint: `the rows above come from the destinations that answered; run haven doctor to see why ${unread.join(", ")} did not`,
          exitCode: ExitCode.FAILED,
        });
      }
    });
}

/** A target argument names a folder of each destination: only a name a target may have. */
function assertTargetName(target: string): void {
  if (TARGET_NAME.test(target)) return;
  throw new HavenError("USAGE", `${JSON.stringify(target)} is not a target name (${TARGET_NAME_RULE})`, {
    hint: "haven snapshots without a target lists every target's snapshots",
  });
}

function printRows(rows: ReadonlyArray<Record<string, unknown>>): void {
  printTable(
    ["TARGET", "SNAPSHOT", "DEST", "STATE", "TIERS", "FINISHED", "SIZE", "STORED"],
    rows.map((r) => [
      String(r.target),
      String(r.id),
      String(r.destination),
      String(r.state),
      Array.isArray(r.tiers) ? r.tiers.join(",") : "",
      typeof r.finishedAt === "string" ? r.finishedAt.replace(/\.\d+Z$/, "Z") : "",
      typeof r.plainSize === "number" ? formatBytes(r.plainSize) : "",
      typeof r.storedSize === "number" ? formatBytes(r.storedSize) : "",
    ]),
  );
}
