/**
 * README's first command, `npm run demo`, runs Haven's main job on embedded defaults. Run here with
 * REDIS_URL pointing where nothing answers, so it must start its own private redis-server too.
 */
import { join } from "node:path";
import { runNodeScript } from "../helpers/cli";

const DEMO = join(__dirname, "..", "..", "dist", "demo", "main.js");

test("the demo backs up through a worker, lists from the bucket, restores and compares, on a private Redis", async () => {
  const run = await runNodeScript(DEMO, [], { env: { REDIS_URL: "redis://127.0.0.1:1" } });
  expect(run.stderr).not.toContain("failed");
  expect(run.code).toBe(0);
  expect(run.stdout).toContain("haven demo: ok");
  expect(run.stdout).toMatch(/redis\s+private redis-server redis:\/\/127\.0\.0\.1:\d+/);
  expect(run.stdout).toMatch(/snapshots\s+1 listed from the bucket/);
  expect(run.stdout).toMatch(/restore\s+\d+ files in [\d.]+ s, identical to the source/);
}, 120_000);
