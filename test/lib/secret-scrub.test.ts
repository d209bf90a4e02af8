import { Writable } from "node:stream";
import { describeError, HavenError } from "../../src/lib/errors";
import { createLogger, scrubLogLine } from "../../src/lib/logger";
import { registerEnvironmentCredentials, Secret, scrubKnownSecrets } from "../../src/lib/secret";

/** A logger writing into memory, and the lines it wrote. */
function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: "debug", destination }), lines };
}

// Each value is unique to this file: the registry is process-wide.
const plain = new Secret("s3cr3t-Plain-7f1c");
const quoted = new Secret('pa"ss\\word-9b2e');
const urlish = new Secret("p@ss:w/rd&x-41d0");
const numeric = new Secret("9876543210");

describe("secrets a library put into text", () => {
  it("are scrubbed from a log line's message, fields, nested error and keys", () => {
    const { logger, lines } = capturedLogger();
    logger.error(
      {
        err: new Error(`connect failed: postgres://app:${plain.reveal()}@db:5432/orders`),
        detail: { stderr: `FATAL: password "${plain.reveal()}" rejected` },
        [`key-${plain.reveal()}`]: 1,
      },
      `retrying with ${plain.reveal()}`,
    );
    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    expect(line).not.toContain(plain.reveal());
    const record = JSON.parse(line) as Record<string, unknown>;
    expect(record.msg).toBe("retrying with [redacted]");
    expect(record.detail).toEqual({ stderr: 'FATAL: password "[redacted]" rejected' });
    expect(Object.keys(record)).toContain("key-[redacted]");
  });

  it("are scrubbed in their JSON-escaped form", () => {
    const { logger, lines } = capturedLogger();
    logger.warn({ reason: `auth with ${quoted.reveal()} refused` }, "login failed");
    const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(record.reason).toBe("auth with [redacted] refused");
    expect(lines[0]).not.toContain(JSON.stringify(quoted.reveal()).slice(1, -1));
  });

  it("are scrubbed in the percent-encoded form a URL gives them", () => {
    const url = new URL("redis://cache:6379");
    url.username = "default";
    url.password = urlish.reveal();
    const { logger, lines } = capturedLogger();
    logger.error({ url: url.href }, "connection lost");
    const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(url.href).not.toContain(urlish.reveal()); // the encoded form differs from the clear one
    expect(record.url).toBe("redis://default:[redacted]@cache:6379");
    expect(scrubKnownSecrets(encodeURIComponent(urlish.reveal()))).toBe("[redacted]");
  });

  it("keep the line valid JSON when the value also occurs outside a string", () => {
    const line = `${JSON.stringify({ level: 50, pid: 9876543210, msg: `token ${numeric.reveal()}` })}\n`;
    const out = scrubLogLine(line);
    const record = JSON.parse(out) as Record<string, unknown>;
    expect(record.pid).toBe(9876543210); // numbers are not strings: left as they are
    expect(record.msg).toBe("token [redacted]");
    expect(out.endsWith("\n")).toBe(true);
  });

  it("leave lines without a secret untouched", () => {
    const line = '{"level":30,"msg":"backup committed"}\n';
    expect(scrubLogLine(line)).toBe(line);
  });

  it("are scrubbed from HavenError messages and hints, and from what the CLI prints for any error", () => {
    const error = new HavenError("CREDENTIALS", `login as app/${plain.reveal()} failed`, {
      hint: `check ${plain.reveal()}`,
    });
    expect(error.message).toBe("login as app/[redacted] failed");
    expect(error.hint).toBe("check [redacted]");
    expect(describeError(new Error(`bad url redis://:${plain.reveal()}@x`))).toBe(
      "bad url redis://:[redacted]@x",
    );
  });

  it("ignore values too short to tell from ordinary text", () => {
    new Secret("ab");
    expect(scrubKnownSecrets("a tab and a cab")).toBe("a tab and a cab");
  });
});

describe("secret URLs", () => {
  it("of a database or Redis give only their password: the rest names the server that failed", () => {
    new Secret("redis://default:r3dis-Pw-5a7e@cache.internal:6379/0");
    new Secret("redis://127.0.0.1:6399");
    expect(scrubKnownSecrets("redis://default:r3dis-Pw-5a7e@cache.internal:6379/0 refused")).toBe(
      "redis://default:[redacted]@cache.internal:6379/0 refused",
    );
    expect(scrubKnownSecrets("no answer from redis://127.0.0.1:6399")).toBe(
      "no answer from redis://127.0.0.1:6399",
    );
  });

  it("of a webhook are secret whole: the token is in the path", () => {
    new Secret("https://hooks.example.com/services/T0/B0/tok3n-c9d1");
    expect(scrubKnownSecrets("POST https://hooks.example.com/services/T0/B0/tok3n-c9d1 gave 500")).toBe(
      "POST [redacted] gave 500",
    );
  });
});

describe("an age secret key", () => {
  it("is scrubbed by its form even when no Secret holds it (pasted where a path belongs)", () => {
    const key = "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS7HQWEX";
    expect(scrubKnownSecrets(`age identity file ${key} does not exist`)).toBe(
      "age identity file [redacted] does not exist",
    );
    const { logger, lines } = capturedLogger();
    logger.error({ path: key.toLowerCase() }, `cannot read ${key}`);
    expect(lines.join("\n")).not.toMatch(/AGE-SECRET-KEY-1Q/i);
  });
});

test("credentials the S3 client reads from the environment are scrubbed like the config's", () => {
  const key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz-scrub-test";
  registerEnvironmentCredentials({ AWS_SECRET_ACCESS_KEY: key, AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE" });
  expect(scrubKnownSecrets(`signing with ${key} as AKIAIOSFODNN7EXAMPLE`)).toBe(
    "signing with [redacted] as AKIAIOSFODNN7EXAMPLE",
  );
});
