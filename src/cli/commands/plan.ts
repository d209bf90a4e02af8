import { Command } from "commander";
import { commandConfig, commandLogger, printJson } from "../context";
import { outputOption } from "../output-option";

export function planCommand(): Command {
  return new Command("plan")
    .description("show the job schedulers `haven serve` would create, change and remove")
    .addOption(outputOption())
    .action(async (opts: { output: string }, command: Command) => {
      const config = await commandConfig(command);
      const { connectRedis, openQueues, planSchedules } = await import("../../jobs");
      const connection = await connectRedis(config.redis, { role: "client", logger: commandLogger(command) });
      const queues = openQueues(connection, { prefix: config.queuePrefix });
      try {
        const plan = await planSchedules(config, queues);
        if (opts.output === "json") return printJson(plan);
        const lines = [
          ...plan.create.map((s) => `+ ${s.queue}/${s.id}  ${s.pattern}  ${s.tz ?? ""}`),
          ...plan.update.map((u) => `~ ${u.spec.queue}/${u.spec.id}  ${u.changes.join("; ")}`),
          ...plan.remove.map((s) => `- ${s.queue}/${s.id}  (no longer in the config)`),
          ...plan.unchanged.map((s) => `  ${s.queue}/${s.id}  ${s.pattern}`),
        ];
        process.stdout.write(
          `${lines.join("\n")}\n${plan.create.length} to create, ${plan.update.length} to change, ` +
            `${plan.remove.length} to remove, ${plan.unchanged.length} unchanged\n`,
        );
      } finally {
        await queues.close();
        connection.disconnect();
      }
    });
}
