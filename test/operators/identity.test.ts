import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { isHavenError, type HavenError } from "../../src/lib/errors";
import { Secret } from "../../src/lib/secret";
import { operatorActor, resolveOperator } from "../../src/operators/identity";
import {
  generateToken,
  hashToken,
  operatorConfigSnippet,
  readPresentedToken,
  tokenMatches,
} from "../../src/operators/token";

const aliceToken = new Secret("alice-token-1234");
const bobToken = new Secret("bob-token-5678");
const config = {
  operators: {
    alice: { role: "admin" as const, tokenSha256: hashToken(aliceToken) },
    bob: { role: "operator" as const, tokenSha256: hashToken(bobToken) },
    carol: { role: "viewer" as const },
  },
};
const where = { osUser: "root", host: "ops1" };

function failure(fn: () => unknown): HavenError {
  try {
    fn();
  } catch (error) {
    if (isHavenError(error)) return error;
    throw error;
  }
  throw new Error("expected a HavenError");
}

test("hashToken is the hex sha256 of the token; tokenMatches compares it", () => {
  expect(hashToken(new Secret("abc"))).toBe(
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  expect(tokenMatches(aliceToken, config.operators.alice.tokenSha256)).toBe(true);
  expect(tokenMatches(bobToken, config.operators.alice.tokenSha256)).toBe(false);
});

test("generateToken makes a 256-bit token that prints redacted, and a config snippet for it", () => {
  const { token, sha256 } = generateToken();
  expect(token.reveal()).toMatch(/^hvn_[A-Za-z0-9_-]{43}$/);
  expect(inspect(token)).toBe("[redacted]");
  expect(sha256).toBe(hashToken(token));
  expect(operatorConfigSnippet("dave", "operator", sha256)).toBe(
    `operators:\n  dave:\n    role: operator\n    tokenSha256: ${sha256}`,
  );
});

test("a token resolves to its operator and role", () => {
  expect(resolveOperator(config, { token: aliceToken, ...where })).toEqual({
    name: "alice",
    role: "admin",
    source: "token",
    osUser: "root",
    host: "ops1",
  });
  expect(resolveOperator(config, { token: bobToken, as: "bob", ...where })).toMatchObject({
    name: "bob",
    role: "operator",
  });
});

test("a wrong token, or a token for someone else than --as, fails CREDENTIALS (exit 12)", () => {
  const wrong = failure(() => resolveOperator(config, { token: new Secret("guess"), ...where }));
  expect(wrong.code).toBe("CREDENTIALS");
  expect(wrong.exitCode).toBe(12);
  expect(wrong.message).toBe("the token presented matches no operator in the config");
  expect(wrong.hint).toContain("haven token new");

  const mismatch = failure(() => resolveOperator(config, { token: bobToken, as: "alice", ...where }));
  expect(mismatch.message).toBe("the token presented is not the token of operator alice");
});

test("--as alone names only operators configured without a token", () => {
  expect(resolveOperator(config, { as: "carol", ...where })).toMatchObject({
    name: "carol",
    role: "viewer",
    source: "name",
  });
  expect(failure(() => resolveOperator(config, { as: "alice", ...where })).message).toBe(
    "operator alice must present a token",
  );
  const unknown = failure(() => resolveOperator(config, { as: "mallory", ...where }));
  expect(unknown.message).toBe("no operator named mallory in the config");
  expect(unknown.hint).toBe("configured operators: alice, bob, carol");
});

test("with operators configured, saying nothing is refused with the way to say who you are", () => {
  const error = failure(() => resolveOperator(config, where));
  expect(error.code).toBe("CREDENTIALS");
  expect(error.hint).toContain("HAVEN_TOKEN_FILE");
});

test("without operators, the local OS user acts as admin; --as only names them", () => {
  for (const noOperators of [{}, { operators: {} }]) {
    const local = resolveOperator(noOperators, where);
    expect(local).toEqual({ name: "root", role: "admin", source: "local", osUser: "root", host: "ops1" });
    expect(operatorActor(local)).toEqual({ user: "root", host: "ops1" });
  }
  const named = resolveOperator({}, { as: "alice", ...where });
  expect(named).toMatchObject({ name: "alice", role: "admin", source: "local" });
  expect(operatorActor(named)).toEqual({ user: "root", identity: "alice", host: "ops1" });
  expect(operatorActor(resolveOperator(config, { token: bobToken, ...where }))).toEqual({
    user: "root",
    identity: "bob",
    host: "ops1",
  });
});

describe("readPresentedToken", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `haven-token-${randomBytes(3).toString("hex")}-`));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("reads HAVEN_TOKEN, or HAVEN_TOKEN_FILE without its trailing newline; undefined when neither is set", async () => {
    expect((await readPresentedToken({ HAVEN_TOKEN: "t-inline" }))?.reveal()).toBe("t-inline");
    const file = join(dir, "token");
    await writeFile(file, "t-from-file\n", { mode: 0o600 });
    const fromFile = await readPresentedToken({ HAVEN_TOKEN_FILE: file });
    expect(fromFile?.reveal()).toBe("t-from-file");
    expect(
      resolveOperator(
        { operators: { erin: { role: "operator", tokenSha256: hashToken(new Secret("t-from-file")) } } },
        { token: fromFile, ...where },
      ).name,
    ).toBe("erin");
    expect(await readPresentedToken({})).toBeUndefined();
  });

  test("both set, an unreadable or an empty file: clear errors", async () => {
    const both = await readPresentedToken({ HAVEN_TOKEN: "a", HAVEN_TOKEN_FILE: "/x" }).catch(
      (e: unknown) => e,
    );
    expect(isHavenError(both, "USAGE")).toBe(true);

    const missing = await readPresentedToken({ HAVEN_TOKEN_FILE: join(dir, "nope") }).catch(
      (e: unknown) => e,
    );
    expect(isHavenError(missing, "CREDENTIALS")).toBe(true);
    expect((missing as Error).message).toContain("ENOENT");

    const empty = join(dir, "empty");
    await writeFile(empty, "\n");
    await chmod(empty, 0o600);
    const emptyError = await readPresentedToken({ HAVEN_TOKEN_FILE: empty }).catch((e: unknown) => e);
    expect((emptyError as Error).message).toContain("is empty");
  });

  test("a token file its group or others may read is refused, naming the mode and chmod 600", async () => {
    const open = join(dir, "open-token");
    await writeFile(open, "t-open\n");
    await chmod(open, 0o640);
    const error = await readPresentedToken({ HAVEN_TOKEN_FILE: open }).catch((e: unknown) => e);
    expect(isHavenError(error, "CREDENTIALS")).toBe(true);
    expect((error as HavenError).message).toContain("accessible by its group or others (mode 0640)");
    expect((error as HavenError).hint).toContain(`chmod 600 ${open}`);
    expect(inspect(error)).not.toContain("t-open");
  });

  test("a directory, or a file far larger than a token, is refused without reading it whole", async () => {
    const directory = await readPresentedToken({ HAVEN_TOKEN_FILE: dir }).catch((e: unknown) => e);
    expect(isHavenError(directory, "CREDENTIALS")).toBe(true);
    expect((directory as Error).message).toContain("EISDIR");
    const huge = join(dir, "huge-token");
    await writeFile(huge, "x".repeat(1 << 20), { mode: 0o600 });
    const large = await readPresentedToken({ HAVEN_TOKEN_FILE: huge }).catch((e: unknown) => e);
    expect(isHavenError(large, "CREDENTIALS")).toBe(true);
    expect((large as Error).message).toContain("EFBIG");
    // A device (or a FIFO) is refused before any read: /dev/zero never ends, a FIFO waits for ever.
    const zeros = await readPresentedToken({ HAVEN_TOKEN_FILE: "/dev/zero" }).catch((e: unknown) => e);
    expect(isHavenError(zeros, "CREDENTIALS")).toBe(true);
    expect((zeros as Error).message).toContain("ENOTREG");
    const fifo = join(dir, "token-fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    const piped = await readPresentedToken({ HAVEN_TOKEN_FILE: fifo }).catch((e: unknown) => e);
    expect((piped as Error).message).toContain("is not a token file");
  });
});
