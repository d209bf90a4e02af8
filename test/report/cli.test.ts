/**
 * `haven report` as an operator runs it, through the command definition with the root program's
 * global options, and errors mapped to exit codes as src/cli/main.ts maps them.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { DateTime } from "luxon";
import { reportCommand } from "../../src/cli/commands/report";
import { layout } from "../../src/catalog/layout";
import { ExitCode, HavenError } from "../../src/lib/errors";
import type { MonthlyReport } from "../../src/report";
import { createFilesystemBackend } from "../../src/storage/filesystem";

let dir: string;
let configFile: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-report-cli-"));
  await mkdir(join(dir, "bucket")); // the destination's root: Haven never creates it
  configFile = join(dir, "haven.yaml");
  await writeFile(
    configFile,
    `
timezone: Europe/Paris
destinations:
  primary: { type: filesystem, path: ${join(dir, "bucket")} }
defaults:
  destinations: [primary]
targets:
  app:
    type: files
    path: /srv/app
    schedule: { daily: "0 2 * * *" }
`,
  );
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `haven report ...`; returns the exit code main() would return and what was printed. */
async function haven(args: string[]): Promise<{ code: number; stdout: string; error?: unknown }> {
  const program = new Command("haven")
    .option("-c, --config <file>")
    .option("--log-level <level>")
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  program.addCommand(reportCommand().exitOverride());
  let stdout = "";
  const write = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  try {
    await program.parseAsync(["node", "haven", "-c", configFile, "--log-level", "silent", ...args]);
    return { code: ExitCode.OK, stdout };
  } catch (error) {
    if (error instanceof CommanderError)
      return { code: error.exitCode === 0 ? 0 : ExitCode.USAGE, stdout, error };
    return { code: error instanceof HavenError ? error.exitCode : ExitCode.FAILED, stdout, error };
  } finally {
    write.mockRestore();
  }
}

test("an --out that cannot be written is a usage error before anything is read", async () => {
  const missing = await haven(["report", "--month", "2026-10", "--out", join(dir, "no-such", "r.html")]);
  expect(missing.code).toBe(ExitCode.USAGE);
  expect((missing.error as Error).message).toMatch(/folder .*no-such does not exist/);
  expect(missing.stdout).toBe("");
  const folder = await haven(["report", "--month", "2026-10", "--out", dir]);
  expect(folder.code).toBe(ExitCode.USAGE);
  expect((folder.error as Error).message).toMatch(/is a folder/);
});

test("a month with no data says so and exits 0 with an empty report", async () => {
  const out = join(dir, "report.html");
  const { code, stdout } = await haven(["report", "--month", "2026-10", "--out", out]);
  expect(code).toBe(0);
  expect(stdout).toContain("Haven monthly report: October 2026");
  expect(stdout).toContain(
    "No snapshot and no verification of any target was recorded in October 2026: the report is empty.",
  );
  expect(stdout).toContain(`HTML written to ${out}`);
  expect(stdout).toMatch(/not sent: add --send/);
  const html = await readFile(out, "utf8");
  expect(html).toMatch(/^<!DOCTYPE html>/);
  expect(html).toContain("the report is empty");
  expect(html).not.toContain("cid:");

  // A preview stores nothing: the bucket keeps only the evidence of reports that were sent.
  const bucket = createFilesystemBackend({ name: "primary", path: join(dir, "bucket"), prefix: "" });
  try {
    expect(await bucket.stat(layout.report("2026-10"))).toBeNull();
  } finally {
    await bucket.close();
  }
});

test("-o json prints the report data", async () => {
  const { code, stdout } = await haven(["report", "--month", "2026-10", "-o", "json"]);
  expect(code).toBe(0);
  const report = JSON.parse(stdout) as {
    empty: boolean;
    period: { month: string };
    summary: { targets: number };
  };
  expect(report.empty).toBe(true);
  expect(report.period.month).toBe("2026-10");
  expect(report.summary.targets).toBe(1);
});

test("the month in progress is reported up to now, firings not yet due left out", async () => {
  const month = DateTime.now().setZone("Europe/Paris").toFormat("yyyy-MM");
  const before = Date.now();
  const { code, stdout } = await haven(["report", "--month", month, "-o", "json"]);
  expect(code).toBe(0);
  const report = JSON.parse(stdout) as MonthlyReport;
  expect(report.period.complete).toBe(false);
  expect(new Date(report.period.end).getTime()).toBeGreaterThanOrEqual(before);
  // One daily firing at 02:00 per day begun, less any within the last hour (a run may still be going).
  const start = DateTime.fromISO(report.period.start);
  const due = DateTime.fromISO(report.period.end).minus({ hours: 1 });
  let expected = 0;
  for (let day = start.setZone("Europe/Paris").set({ hour: 2 }); day <= due; day = day.plus({ days: 1 }))
    expected++;
  expect(report.summary.backups.scheduled).toBe(expected);
  expect(report.summary.backups.missed).toBe(expected);
});

test.each([["2026-13"], ["October"], ["2026-1"], ["26-10"]])(
  "--month %s is a usage error: exit 2",
  async (month) => {
    const { code, stdout, error } = await haven(["report", "--month", month]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect((error as HavenError).code).toBe("USAGE");
    expect((error as HavenError).hint).toMatch(/YYYY-MM/);
  },
);

test("a month that has not begun is a usage error: exit 2", async () => {
  const { code, error } = await haven(["report", "--month", "2099-01"]);
  expect(code).toBe(2);
  expect((error as HavenError).message).toMatch(/has not begun/);
});

test("a malformed --month is a usage error: exit 2, saying the expected form", async () => {
  for (const month of ["2026-13", "2026-1", "october", "2026-10-01"]) {
    const { code, error } = await haven(["report", "--month", month]);
    expect({ month, code }).toEqual({ month, code: 2 });
    expect(error).toMatchObject({
      message: `not a month: "${month}"`,
      hint: expect.stringMatching(/YYYY-MM/),
    });
  }
});
