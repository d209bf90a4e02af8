/**
 * `haven report --send` is what the report-failed alert tells the operator to run: a delivery from
 * the CLI resolves that alert (real Redis, a real SMTP server for the report and the alert, the
 * command run as an operator runs it). Re-sending an older month does not. A report made by hand reads
 * the same alert state as the scheduled one (first-seen times, open incidents).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { Redis } from "ioredis";
import { Monitor } from "../../src/app/monitoring";
import { reportCommand } from "../../src/cli/commands/report";
import { loadConfig } from "../../src/config/load";
import { silentLogger } from "../../src/lib/logger";
import { deletePrefix } from "../alerts/monitor-fixture";
import { uniqueName } from "../helpers/s3-config";
import { startReceiver, type ReportSmtpReceiver } from "./smtp";

const SMTP = { user: "haven", password: `pw-${Math.random().toString(36).slice(2)}` };

let dir: string;
let redis: Redis;
let receiver: ReportSmtpReceiver;
const prefix = uniqueName("haven-resend");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-report-resend-"));
  await mkdir(join(dir, "bucket")); // the destination's root: Haven never creates it
  redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  receiver = await startReceiver(SMTP);
  await writeFile(
    join(dir, "haven.yaml"),
    `
redis: ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}
queuePrefix: ${prefix}
destinations:
  primary: { type: filesystem, path: ${join(dir, "bucket")} }
defaults:
  destinations: [primary]
targets:
  app: { type: files, path: /srv/app, schedule: { daily: "0 2 * * *" } }
alerts:
  email:
    smtp: { host: 127.0.0.1, port: ${receiver.port}, user: ${SMTP.user}, password: "${SMTP.password}", tls: { enabled: true, rejectUnauthorized: false } }
    from: haven@example.com
    to: [ops@example.com]
reports:
  monthly: { to: [it-manager@example.com] }
`,
  );
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `haven ARGS` in this process; returns what it printed. */
async function haven(args: string[], configFile = join(dir, "haven.yaml")): Promise<string> {
  const program = new Command("haven").option("-c, --config <file>").option("--log-level <level>");
  program.addCommand(reportCommand());
  let printed = "";
  const write = jest.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    printed += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(["node", "haven", "-c", configFile, "--log-level", "silent", ...args]);
  } finally {
    write.mockRestore();
  }
  return printed;
}

test("a report sent by hand for the month that failed resolves report-failed; an older month does not", async () => {
  const config = await loadConfig(join(dir, "haven.yaml"));
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    // The scheduled job could not deliver October's report: the alert is open (and emailed).
    await monitor.afterReport("2026-10", new Error("SMTP 535 authentication failed"));
    const open = async () => (await monitor.incidents.openIncidents()).map((i) => i.key);
    expect(await open()).toEqual(["report-failed:-"]);

    await haven(["report", "--month", "2026-09", "--send"]);
    expect(await open()).toEqual(["report-failed:-"]);

    await haven(["report", "--month", "2026-10", "--send"]);
    expect(await open()).toEqual([]);
    const subjects = receiver.messages.map((m) => m.subject ?? "");
    expect(subjects.filter((s) => s.includes("Monthly report not delivered"))).toEqual([
      "[haven] Monthly report not delivered: haven",
      "[haven] Resolved: Monthly report not delivered: haven",
    ]);
  } finally {
    await monitor.close();
  }
});

test("a report made by hand judges a target added mid-month from when it was first seen, and counts open incidents", async () => {
  // The watchdog first saw `app` on 20 October; it has no snapshot yet.
  await redis.hset(`${prefix}:slo:first-seen`, "app", String(Date.parse("2026-10-20T00:00:00Z")));
  const report = JSON.parse(await haven(["report", "--month", "2026-10", "-o", "json"])) as {
    summary: { openIncidents: number | null };
    targets: Array<{ target: string; backups: { scheduled: number; missed: number } }>;
  };
  // Daily at 02:00 UTC from the 20th to the 31st, not from the 1st (which would be 31).
  expect(report.targets.find((t) => t.target === "app")?.backups).toMatchObject({
    scheduled: 12,
    missed: 12,
  });
  // The alert state answered: none open, rather than "unknown".
  expect(report.summary.openIncidents).toBe(0);
});

test("a report sent by hand that the server refused for one reader exits 1 naming it, and leaves report-failed open", async () => {
  const refusing = await startReceiver({ ...SMTP, refuseRecipients: { "cio@example.com": { code: 550 } } });
  const file = join(dir, "refusing.yaml");
  const config = await loadConfig(join(dir, "haven.yaml"));
  const monitor = new Monitor(config, redis, silentLogger);
  try {
    await writeFile(
      file,
      (await readFile(join(dir, "haven.yaml"), "utf8"))
        .replace(`port: ${receiver.port}`, `port: ${refusing.port}`)
        .replace("to: [it-manager@example.com]", "to: [it-manager@example.com, cio@example.com]"),
    );
    await monitor.afterReport("2026-10", new Error("SMTP 535 authentication failed"));
    await expect(haven(["report", "--month", "2026-10", "--send"], file)).rejects.toThrow(
      /sent to it-manager@example\.com but not delivered to cio@example\.com \(550/,
    );
    const reports = refusing.recipients.filter((_, i) =>
      refusing.messages[i]?.subject?.startsWith("Haven report"),
    );
    expect(reports).toEqual([["it-manager@example.com"]]);
    expect((await monitor.incidents.openIncidents()).map((i) => i.key)).toEqual(["report-failed:-"]);
  } finally {
    await monitor.incidents.clear("report-failed:-");
    await monitor.close();
    await refusing.close();
  }
});
