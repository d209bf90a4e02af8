import { Command } from "commander";
import { commandConfig, commandLogger } from "../context";

export function serveCommand(): Command {
  return new Command("serve")
    .description("apply the config's schedules to Redis (job schedulers) and run workers")
    .action(async (_opts: unknown, command: Command) => {
      const config = await commandConfig(command);
      await (
        await import("../../app/runtime")
      ).startRuntime(config, { mode: "serve", logger: commandLogger(command, "info") });
      await new Promise<never>(() => undefined); // runs until SIGTERM/SIGINT (see installShutdown)
    });
}

export function workerCommand(): Command {
  return new Command("worker")
    .description("run workers only (scale out: any number of these, on any machine, one Redis)")
    .action(async (_opts: unknown, command: Command) => {
      const config = await commandConfig(command);
      await (
        await import("../../app/runtime")
      ).startRuntime(config, { mode: "worker", logger: commandLogger(command, "info") });
      await new Promise<never>(() => undefined);
    });
}
