/**
 * Issue 7 acceptance for operators and the audit trail, through the built CLI: a protected target
 * refuses an in-place restore without approval; the requester cannot approve their own request; a
 * second admin's approval lets it run once; break-glass runs, is audited and alerts at once; every act
 * leaves an audit record, and deleting or editing one makes `haven audit verify` fail and name it.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hashToken } from "../../src/operators";
import { Secret } from "../../src/lib/secret";
import { startWebhookReceiver, type WebhookReceiver } from "../alerts/receivers";
import { runCli, withoutProgress } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

const tokens = {
  alice: "alice-token-0123456789",
  bob: "bob-token-0123456789",
  carol: "carol-token-0123456789",
};
let work: string;
let configPath: string;
let webhook: WebhookReceiver;

beforeAll(async () => {
  work = await tempDir("haven-e2e-guard");
  webhook = await startWebhookReceiver();
  await mkdir(join(work, "vault"));
  await writeFile(join(work, "vault", "ledger.txt"), "balance: 100\n");
  const sha = (t: string) => hashToken(new Secret(t));
  configPath = await writeNasConfigFile(
    work,
    `
targets:
  vault: { type: files, path: ${join(work, "vault")}, protected: true }
operators:
  alice: { role: admin, tokenSha256: ${sha(tokens.alice)} }
  bob: { role: admin, tokenSha256: ${sha(tokens.bob)} }
  carol: { role: operator, tokenSha256: ${sha(tokens.carol)} }
alerts:
  webhooks: [ { url: "${webhook.url}/hook" } ]
`,
  );
});

afterAll(async () => {
  await webhook.close();
});

const asIn = (cwd: string, who: keyof typeof tokens, ...args: string[]) =>
  runCli(["-c", configPath, ...args], { env: { HAVEN_TOKEN: tokens[who] }, cwd });
const as = (who: keyof typeof tokens, ...args: string[]) => asIn(process.cwd(), who, ...args);

/** `haven restore vault ... --request -o json` by alice in `cwd`: the request, parsed; it must succeed. */
async function requestRestore(
  cwd: string,
  ...flags: string[]
): Promise<Record<string, unknown> & { id: string }> {
  const request = await asIn(cwd, "alice", "restore", "vault", ...flags, "--request", "-o", "json");
  expect(request.code).toBe(0);
  return JSON.parse(request.stdout) as Record<string, unknown> & { id: string };
}

test("a protected target: refused without approval, no self-approval, a second admin's approval runs once", async () => {
  const backup = await as("carol", "backup", "vault", "--direct", "-o", "json");
  expect(backup.code).toBe(0);
  const snapshot = JSON.parse(backup.stdout).snapshotId as string;
  await writeFile(join(work, "vault", "ledger.txt"), "balance: 0 (damaged)\n");

  const refused = await as("alice", "restore", "vault", "--yes", "--force");
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/protected.*approval/);
  expect(readFileSync(join(work, "vault", "ledger.txt"), "utf8")).toContain("damaged");

  const operatorInPlace = await as(
    "carol",
    "restore",
    "vault",
    "--yes",
    "--force",
    "--break-glass",
    "--reason",
    "I am only an operator",
  );
  expect(operatorInPlace.code).not.toBe(0);

  const request = await requestRestore(process.cwd(), "--force", "--reason", "ledger damaged");
  const id = request.id;
  expect(request).toMatchObject({ force: true, include: [] });

  const selfApproval = await as("alice", "approve", id);
  expect(selfApproval.code).not.toBe(0);
  expect(selfApproval.stderr).toMatch(/different|own|same/i);

  const approved = await as("bob", "approve", id);
  expect(approved.code).toBe(0);
  expect(approved.stdout).toContain("over the original location with --force");

  // The approval is for the whole snapshot: a restore of a part (or without --force) is refused, unused.
  const other = await as(
    "alice",
    "restore",
    "vault",
    "--request-id",
    id,
    "--yes",
    "--force",
    "--include",
    "x",
  );
  expect(other.code).not.toBe(0);
  expect(other.stderr).toContain(`restore request ${id} does not approve this restore: --include "x"`);
  expect(other.stderr).toContain("--request");

  const restored = await as("alice", "restore", "vault", "--request-id", id, "--yes", "--force");
  expect(restored.code).toBe(0);
  expect(restored.stdout).toContain(snapshot);
  expect(readFileSync(join(work, "vault", "ledger.txt"), "utf8")).toBe("balance: 100\n");

  const reused = await as("alice", "restore", "vault", "--request-id", id, "--yes", "--force");
  expect(reused.code).not.toBe(0);
  expect(reused.stderr).toMatch(/used/i);
});

test("an approval binds the folder --to names, not its spelling relative to someone's working directory", async () => {
  await mkdir(join(work, "vault", "approved"), { recursive: true });
  const request = await requestRestore(work, "--to", "vault/approved", "--force");
  const id = request.id;
  expect(request).toMatchObject({ to: join(work, "vault", "approved") });
  expect((await as("bob", "approve", id)).code).toBe(0);

  // The same words from another directory name another folder: refused, the approval unused.
  // alice runs the approved restore from inside vault/, naming the folder relative to it.
  const runApproved = (to: string) =>
    asIn(
      join(work, "vault"),
      "alice",
      "restore",
      "vault",
      "--request-id",
      id,
      "--to",
      to,
      "--force",
      "--yes",
    );
  const elsewhere = await runApproved("vault/approved");
  expect(elsewhere.code).not.toBe(0);
  expect(elsewhere.stderr).toContain(`to ${join(work, "vault", "vault", "approved")}`);

  const same = await runApproved("approved");
  expect(withoutProgress(same.stderr)).toBe("");
  expect(same.code).toBe(0);
  expect(readFileSync(join(work, "vault", "approved", "ledger.txt"), "utf8")).toBe("balance: 100\n");
});

test("the command a request prints to run it names the bound folder, so it runs from any directory", async () => {
  await mkdir(join(work, "vault", "printed"), { recursive: true });
  const request = await asIn(
    work,
    "alice",
    "restore",
    "vault",
    "--to",
    "vault/printed",
    "--force",
    "--request",
  );
  expect(request.code).toBe(0);
  const printed = /then run: haven (.+)$/m.exec(request.stdout)?.[1];
  expect(printed).toContain(`--to ${join(work, "vault", "printed")}`);
  const id = /--request-id (\S+)/.exec(printed ?? "")?.[1] ?? "";
  expect((await as("bob", "approve", id)).code).toBe(0);
  // As printed, by alice, from another directory than she asked from.
  const run = await asIn(join(work, "vault"), "alice", ...(printed ?? "").split(" "));
  expect(withoutProgress(run.stderr)).toBe("");
  expect(run.code).toBe(0);
});

test("--to naming the original folder, a folder inside it or a link to it is in place: the guard applies", async () => {
  await writeFile(join(work, "vault", "ledger.txt"), "balance: 7 (live)\n");
  await symlink(join(work, "vault"), join(work, "link-to-vault"));
  for (const to of [join(work, "vault"), join(work, "vault", "sub"), join(work, "link-to-vault")]) {
    const unconfirmed = await as("carol", "restore", "vault", "--to", to, "--force");
    expect(unconfirmed.code).not.toBe(0);
    expect(unconfirmed.stderr).toMatch(/over the original location of vault needs confirmation/);
    const confirmed = await as("alice", "restore", "vault", "--to", to, "--force", "--yes");
    expect(confirmed.code).not.toBe(0);
    expect(confirmed.stderr).toMatch(/protected.*approval/);
  }
  expect(readFileSync(join(work, "vault", "ledger.txt"), "utf8")).toBe("balance: 7 (live)\n");
  expect(existsSync(join(work, "vault", "sub"))).toBe(false);

  // Anywhere else is not in place: an operator restores there without approval.
  const elsewhere = await as("carol", "restore", "vault", "--to", join(work, "vault-copy"));
  expect(elsewhere.code).toBe(0);
  expect(readFileSync(join(work, "vault-copy", "ledger.txt"), "utf8")).toBe("balance: 100\n");
});

test("break-glass runs without approval, is audited with its reason, and alerts at once", async () => {
  await writeFile(join(work, "vault", "ledger.txt"), "balance: -1\n");
  const before = webhook.requests.length;
  const result = await as(
    "bob",
    "restore",
    "vault",
    "--yes",
    "--force",
    "--break-glass",
    "--reason",
    "incident 4711: ledger lost",
  );
  expect(result.code).toBe(0);
  expect(readFileSync(join(work, "vault", "ledger.txt"), "utf8")).toBe("balance: 100\n");
  const alerts = webhook.requests.slice(before);
  expect(alerts).toHaveLength(1);
  expect(alerts[0]!.body).toContain("incident 4711");

  const audit = await as("alice", "audit", "-o", "json");
  expect(audit.code).toBe(0);
  const records = JSON.parse(audit.stdout) as Array<{
    action: string;
    outcome: string;
    actor: { identity?: string };
    detail: Record<string, unknown>;
  }>;
  const summary = records.map((r) => `${r.action}:${r.outcome}:${r.actor.identity ?? ""}`);
  expect(summary).toEqual(
    expect.arrayContaining([
      "backup:ok:carol",
      "restore:refused:alice",
      "request:requested:alice",
      "approve:refused:alice",
      "approve:ok:bob",
      "restore:ok:alice",
      "break-glass:ok:bob",
      "restore:ok:bob",
    ]),
  );
  expect(JSON.stringify(records)).not.toContain(tokens.alice);
});

test("audit verify passes on the untouched chain, and names a deleted and an edited record", async () => {
  expect((await as("alice", "audit", "verify")).code).toBe(0);
  const auditDir = join(work, "nas", "_audit");
  const files = (await readdir(auditDir, { recursive: true }))
    .filter((f) => f.endsWith(".json") && !f.includes("HEAD"))
    .sort();
  expect(files.length).toBeGreaterThanOrEqual(6);

  const edited = join(auditDir, files[2]!);
  const original = readFileSync(edited, "utf8");
  await writeFile(
    edited,
    original.replace('"outcome":"ok"', '"outcome":"failed"').replace('"outcome":"refused"', '"outcome":"ok"'),
  );
  const afterEdit = await as("alice", "audit", "verify");
  expect(afterEdit.code).not.toBe(0);
  expect(afterEdit.stdout + afterEdit.stderr).toContain(files[2]!.split("/").at(-1)!);
  await writeFile(edited, original);

  const deleted = files[4]!;
  await rm(join(auditDir, deleted));
  const afterDelete = await as("alice", "audit", "verify");
  expect(afterDelete.code).not.toBe(0);
  expect(afterDelete.stdout + afterDelete.stderr).toMatch(/missing|removed|gap/i);
});

test("a restore its own checks refuse (a folder not empty) leaves the approval for the next attempt", async () => {
  expect((await as("carol", "backup", "vault", "--direct")).code).toBe(0);
  const into = join(work, "vault", "recovered");
  const request = await requestRestore(process.cwd(), "--to", into, "--reason", "recover the ledger");
  expect((await as("bob", "approve", request.id)).code).toBe(0);
  // Between the approval and the restore, something was put in the folder.
  await mkdir(into, { recursive: true });
  await writeFile(join(into, "notes.txt"), "keep me\n");

  const run = () => as("alice", "restore", "vault", "--request-id", request.id, "--to", into, "--yes");
  const refused = await run();
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain("is not empty");
  expect(readFileSync(join(into, "notes.txt"), "utf8")).toBe("keep me\n");

  await rm(join(into, "notes.txt"));
  const restored = await run();
  expect(restored.code).toBe(0);
  expect(readFileSync(join(into, "ledger.txt"), "utf8")).toBe("balance: 100\n");
  const reused = await run();
  expect(reused.code).not.toBe(0);
  expect(reused.stderr).toMatch(/already used/);
});
