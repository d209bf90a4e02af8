import { Command, Option } from "commander";
import type { CheckResult, VerificationRecord } from "../../verify/record";
import { provesSnapshotDamaged } from "../../verify/damage";
import { ExitCode, HavenError } from "../../lib/errors";
import { audit } from "../../app/audit";
import { auditLockOptions } from "../audit-lock";
import { authorize, operatorActor } from "../../operators";
import {
  commandConfig,
  commandLogger,
  commandOperator,
  interruptSignal,
  printJson,
  snapshotIdArgument,
} from "../context";
import { outputOption } from "../output-option";
import { createProgress } from "../progress";

export function verifyCommand(): Command {
  return new Command("verify")
    .description(
      "verify a snapshot now: an integrity check (read back, hash, decrypt, decompress) or a restore test " +
        "(restore into a scratch place, run the checks, drop it); fails when the newest snapshot is older than the RPO",
    )
    .argument("<target>", "target name from the config")
    .option(
      "--snapshot <id>",
      "snapshot id (default: the newest, or a random one within verify.randomWithin)",
      snapshotIdArgument,
    )
    .addOption(
      new Option("--kind <kind>", "integrity or restore (default: the target's verify.kind)").choices([
        "integrity",
        "restore",
      ]),
    )
    .option(
      "--from <destination>",
      "verify the snapshot held by this destination (a copy), and record the result there, instead of the target's primary",
    )
    .option(
      "--direct",
      "run in this process (the default today; queued verification runs on the verify schedule)",
    )
    .addOption(outputOption())
    .action(
      async (
        target: string,
        opts: { snapshot?: string; kind?: "integrity" | "restore"; from?: string; output: string },
        command: Command,
      ) => {
        const config = await commandConfig(command);
        const operator = await commandOperator(command, config);
        authorize(operator, "verify", target);
        const logger = commandLogger(command);
        const progress = createProgress(`verify ${target}`);
        let record;
        try {
          // Loaded here: it brings every scratch server (ioredis, pg, mysql), which other commands never need.
          const { runVerification } = await import("../../verify/run");
          record = await runVerification(
            config,
            { target, snapshotId: opts.snapshot, kind: opts.kind, from: opts.from },
            {
              logger,
              signal: interruptSignal(),
              onProgress: (e) => progress.update(e),
            },
          );
        } finally {
          progress.stop();
        }
        await audit(
          config,
          logger,
          {
            action: "verify",
            outcome: record.result === "passed" ? "ok" : "failed",
            actor: operatorActor(operator),
            target,
            snapshot: record.snapshotId,
            detail: {
              kind: record.kind,
              totalMs: record.totalMs,
              record: record.recordKey,
              ...(opts.from ? { from: opts.from } : {}),
            },
          },
          await auditLockOptions(config, logger),
        );
        if (opts.output === "json") printJson(record);
        else {
          const phases = Object.entries(record.phases)
            .map(([phase, ms]) => `${phase} ${ms} ms`)
            .join(", ");
          process.stdout.write(
            `${record.kind} check of ${target} snapshot ${record.snapshotId}${opts.from ? ` on ${opts.from}` : ""}: ${record.result} in ${record.totalMs} ms` +
              `${phases ? ` (${phases})` : ""}\n`,
          );
          for (const check of record.checks) process.stdout.write(`  ${describeCheck(check)}\n`);
        }
        if (record.result !== "passed") throw verificationFailure(target, record, opts.from);
      },
    );
}

/**
 * A failed verification says whether it proved the snapshot damaged (the rule the RPO and prune use):
 * only then is "restore an older snapshot" the advice. A missing identity, a refused login or a
 * scratch server that was down says nothing of the snapshot, and its fix is elsewhere; a decryption
 * or credentials refusal exits 12 as DESIGN.md says.
 */
function verificationFailure(
  target: string,
  record: VerificationRecord & { recordKey: string },
  from: string | undefined,
): HavenError {
  const evidence = `the record is at ${record.recordKey}${from ? ` on ${from}` : ""}`;
  if (provesSnapshotDamaged(record)) {
    return new HavenError(
      "INTEGRITY",
      `verification of ${target} failed: snapshot ${record.snapshotId} is damaged`,
      {
        hint: `restore from an older snapshot or another destination; ${evidence}`,
        exitCode: ExitCode.FAILED,
      },
    );
  }
  const code = record.error?.code;
  const refused = code === "DECRYPT" || code === "CREDENTIALS";
  return new HavenError(
    "PERMANENT",
    `verification of ${target} failed${record.error ? `: ${record.error.message}` : ""}; this does not show that snapshot ${record.snapshotId} is damaged`,
    {
      hint:
        (code === "DECRYPT"
          ? "give this host the age identity (encryption.identityFile or HAVEN_IDENTITY_FILE; haven keys check tests it)"
          : "fix what the failed checks name") +
        `, then run haven verify ${target}${from ? ` --from ${from}` : ""} again; ${evidence}`,
      exitCode: refused ? ExitCode.DECRYPT_OR_CREDENTIALS : ExitCode.FAILED,
    },
  );
}

function describeCheck(check: CheckResult): string {
  const values = check.ok
    ? ""
    : [
        "expected" in check ? ` expected ${JSON.stringify(check.expected)}` : "",
        "actual" in check ? ` actual ${JSON.stringify(check.actual)}` : "",
      ].join("");
  return `${check.ok ? "ok  " : "FAIL"} ${check.name}${values}${check.detail ? `: ${check.detail}` : ""}`;
}
