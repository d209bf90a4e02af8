import { Command } from "commander";
import { generateIdentity } from "../../crypto/age";
import { checkKeys, summarizeKeyCheck } from "../../engine/keys-check";
import { ExitCode, HavenError } from "../../lib/errors";
import { audit } from "../../app/audit";
import { auditLockOptions } from "../audit-lock";
import { authorize, operatorActor } from "../../operators";
import { commandConfig, commandLogger, commandOperator, printJson, printTable } from "../context";
import { outputOption } from "../output-option";

export function keysCommand(): Command {
  const keys = new Command("keys").description(
    "age encryption keys: generate one, check that every snapshot decrypts",
  );
  keys
    .command("check")
    .description("prove every retained snapshot can be decrypted with the identities at hand")
    .option(
      "--identity <file>",
      "age identity file (default: HAVEN_IDENTITY_FILE or encryption.identityFile)",
    )
    .addOption(outputOption())
    .action(async (opts: { identity?: string; output: string }, command: Command) => {
      const config = await commandConfig(command);
      const logger = commandLogger(command);
      const operator = await commandOperator(command, config);
      // It reads and decrypts every retained snapshot: verification, not a viewer's reading.
      authorize(operator, "verify");
      const rows = await checkKeys(config, { identityFile: opts.identity, logger });
      const { objects, failed, unlisted } = summarizeKeyCheck(rows);
      await audit(
        config,
        logger,
        {
          action: "keys-check",
          outcome: rows.every((r) => r.ok) ? "ok" : "failed",
          actor: operatorActor(operator),
          detail: { objects, failed, unlisted },
        },
        await auditLockOptions(config, logger),
      );
      if (opts.output === "json") printJson(rows);
      else if (rows.length === 0) process.stdout.write("no encrypted snapshots\n");
      else
        printTable(
          ["", "DEST", "TARGET", "SNAPSHOT", "OBJECT", "DETAIL"],
          rows.map((r) => [
            r.ok ? "ok" : "FAIL",
            r.destination,
            r.target,
            r.snapshot,
            r.object.split("/").at(-1) ?? "",
            r.detail,
          ]),
        );
      // Said whatever else fails: a destination not listed is a destination not proven.
      const notListed =
        unlisted.length === 0
          ? undefined
          : `${unlisted.length} destination${unlisted.length === 1 ? "" : "s"} could not be listed: ${unlisted.join(", ")}`;
      if (failed > 0) {
        throw new HavenError(
          "DECRYPT",
          `${failed} of ${objects} encrypted objects cannot be decrypted with these identities` +
            (notListed ? `; and ${notListed}` : ""),
          {
            hint: "keep the old identity files of rotated keys until their snapshots expire; add them to the identity file",
            exitCode: ExitCode.DECRYPT_OR_CREDENTIALS,
          },
        );
      }
      if (notListed) {
        throw new HavenError("PERMANENT", `${notListed}; their snapshots were not checked`, {
          hint: "see each one's row for the error (haven doctor probes them), then run haven keys check again",
          exitCode: ExitCode.FAILED,
        });
      }
    });
  keys
    .command("generate")
    .description(
      "print a new age identity (keep it offline) and its recipient (put it in encryption.recipients)",
    )
    .action(() => {
      const { identity, recipient } = generateIdentity();
      process.stdout.write(`# public key: ${recipient}\n${identity}\n`);
    });
  return keys;
}
