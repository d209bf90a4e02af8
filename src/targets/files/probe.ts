/**
 * The files target's probe: the source directory exists, is a directory, can be listed and read by
 * this process, and a backup would not refuse it (source-guard.ts: empty, or not the mount point it
 * must be). Read-only and cheap; failures are reported, never thrown.
 */
import { constants } from "node:fs";
import { access, opendir, stat } from "node:fs/promises";
import type { ProbeResult } from "../types";
import { sourceRefusal, type SourceGuardConfig } from "./source-guard";

type Check = ProbeResult["checks"][number];

function reason(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  return err.code ?? err.message;
}

async function check(name: string, run: () => Promise<Check>): Promise<Check> {
  try {
    return await run();
  } catch (error) {
    return { name, ok: false, detail: `failed: ${reason(error)}` };
  }
}

/** What the source guard found, in the words of the checks it made. */
function passedGuards(config: SourceGuardConfig): string {
  const found = [config.allowEmpty === true ? "may be empty (allowEmpty)" : "not empty"];
  if (config.mountpoint === true) found.push("a mount point");
  return `${config.path}: ${found.join(", ")}`;
}

export async function probeDirectory(config: SourceGuardConfig, signal: AbortSignal): Promise<ProbeResult> {
  const { path } = config;
  const where = `targets.${config.name}.path`;
  const checks: Check[] = [];
  const finish = () => ({ ok: checks.every((c) => c.ok), checks });

  const exists = await check("path exists", async () => {
    const info = await stat(path);
    return {
      name: "path exists",
      ok: true,
      detail: `${path} (${info.isDirectory() ? "directory" : "not a directory"})`,
    };
  });
  if (!exists.ok) {
    exists.hint = `check ${where} in the config, and that the share is mounted on this worker`;
    checks.push(exists);
    return finish();
  }
  checks.push(exists);

  const isDirectory = (await stat(path).catch(() => undefined))?.isDirectory() === true;
  checks.push({
    name: "is a directory",
    ok: isDirectory,
    detail: isDirectory ? path : `${path} is not a directory`,
    ...(isDirectory ? {} : { hint: `point ${where} at a directory` }),
  });
  if (!isDirectory || signal.aborted) return finish();

  const readable = await check("readable", async () => {
    await access(path, constants.R_OK | constants.X_OK);
    const dir = await opendir(path);
    try {
      await dir.read();
    } finally {
      await dir.close();
    }
    return {
      name: "readable",
      ok: true,
      detail: `${path} can be listed by uid ${process.getuid?.() ?? "?"}`,
    };
  });
  if (!readable.ok) readable.hint = `run the worker as a user that can read ${path}, or fix its permissions`;
  checks.push(readable);
  if (!readable.ok || signal.aborted) return finish();

  const refused = await check("backup would start", async () => {
    const refusal = await sourceRefusal(config);
    return {
      name: "backup would start",
      ok: refusal === undefined,
      detail: refusal?.message ?? passedGuards(config),
      ...(refusal?.hint === undefined ? {} : { hint: refusal.hint }),
    };
  });
  checks.push(refused);
  return finish();
}
