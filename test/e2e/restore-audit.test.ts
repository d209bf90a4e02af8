/**
 * "Every restore is audited", through the built CLI against s3rver behind a proxy that refuses
 * writes under `_audit/` (AccessDenied, as a bucket policy or a read-only key would): an in-place
 * restore does not start without its start record; a restore elsewhere runs and says its record is
 * missing; a restore whose outcome record cannot be written exits 3 and says so, never a plain success.
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startS3rver, type S3rverHandle } from "../../src/lib/s3rver-process";
import { runCli, withoutProgress } from "../helpers/cli";
import { s3DestinationYaml, tempDir, uniqueName, writeConfigFile } from "../helpers/s3-config";
import { s3ErrorXml, startS3Proxy, type RecordedRequest, type S3Proxy } from "../objectlock/s3-proxy";

const bucket = uniqueName("restore-audit");
let s3: S3rverHandle;
let proxy: S3Proxy;
let work: string;
let share: string;
let configPath: string;

beforeAll(async () => {
  s3 = await startS3rver({ buckets: [bucket] });
  proxy = await startS3Proxy(s3.endpoint);
  work = await tempDir("haven-restore-audit");
  share = join(work, "share");
  await mkdir(share);
  await writeFile(join(share, "ledger.txt"), "balance: 100\n");
  configPath = await writeConfigFile(
    work,
    [
      "destinations:",
      s3DestinationYaml({ ...s3, endpoint: proxy.endpoint }, bucket, `${uniqueName("p")}/`),
      "targets:",
      "  share:",
      "    type: files",
      `    path: ${JSON.stringify(share)}`,
      "    destinations: [primary]",
    ].join("\n"),
  );
  expect((await cli("backup", "share", "--direct")).code).toBe(0);
});

afterEach(() => {
  proxy.rules.length = 0;
});

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
});

const cli = (...args: string[]) => runCli(["-c", configPath, ...args]);

/** An audit record's PUT (not the head pointer's). */
const isRecordPut = (r: RecordedRequest) =>
  r.method === "PUT" && r.path.includes("/_audit/") && !r.path.endsWith("/HEAD.json");

const accessDenied = {
  respond: { status: 403, body: s3ErrorXml("AccessDenied", "Access Denied") },
};

/** Refuses audit record writes after the first `allowed` of them. */
function denyAuditRecords(allowed = 0): void {
  let seen = 0;
  proxy.rules.push((r) => {
    if (!isRecordPut(r)) return undefined;
    seen += 1;
    return seen > allowed ? accessDenied : undefined;
  });
}

interface TrailRecord {
  action: string;
  outcome: string;
  detail: { to?: string };
}

async function auditTrail(): Promise<TrailRecord[]> {
  const result = await cli("audit", "-o", "json");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as TrailRecord[];
}

test("an in-place restore does not start when its start record cannot be written", async () => {
  await writeFile(join(share, "ledger.txt"), "balance: 7 (live)\n");
  denyAuditRecords();
  const result = await cli("restore", "share", "--yes", "--force");
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(
    /restore of share over .* not started: its audit record could not be written/,
  );
  expect(result.stderr).toContain("_audit/ on destination primary");
  expect(result.stderr).toMatch(/hint: check that this destination's credentials may write/);
  expect(readFileSync(join(share, "ledger.txt"), "utf8")).toBe("balance: 7 (live)\n");
});

test("a restore elsewhere runs with an unwritable audit prefix, and says its record is missing (exit 3)", async () => {
  denyAuditRecords();
  const scratch = join(work, "scratch");
  const result = await cli("restore", "share", "--to", scratch);
  expect(readFileSync(join(scratch, "ledger.txt"), "utf8")).toBe("balance: 100\n");
  expect(result.stdout).toContain(`restored share snapshot`);
  expect(result.code).toBe(3);
  expect(result.stderr).toMatch(/the audit record of this restore of share \(outcome: ok\) is missing/);
});

test("an in-place restore whose outcome record cannot be written exits 3 and says so; its start is in the trail", async () => {
  await writeFile(join(share, "ledger.txt"), "balance: 0 (damaged)\n");
  denyAuditRecords(1);
  const result = await cli("restore", "share", "--yes", "--force");
  expect(readFileSync(join(share, "ledger.txt"), "utf8")).toBe("balance: 100\n");
  expect(result.code).toBe(3);
  expect(result.stderr).toMatch(/the audit record of this restore of share \(outcome: ok\) is missing/);

  proxy.rules.length = 0;
  const trail = await auditTrail();
  const last = trail.at(-1);
  expect(last).toMatchObject({ action: "restore-start", outcome: "ok" });
  expect(last?.detail.to).toMatch(/original location of share/);
});

test("with a writable trail, a restore leaves its start and its outcome, with what it restored, and exits 0", async () => {
  const result = await cli("restore", "share", "--yes", "--force", "--include", "ledger.txt");
  expect(result.code).toBe(0);
  expect(withoutProgress(result.stderr)).toBe("");
  const records = (await auditTrail()).slice(-2);
  expect(records.map((r) => `${r.action}:${r.outcome}`)).toEqual(["restore-start:ok", "restore:ok"]);
  for (const record of records) expect(record.detail).toMatchObject({ include: ["ledger.txt"], force: true });
});
