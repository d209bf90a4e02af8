import { chmod, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import { bech32 } from "bech32";
import {
  generateIdentity,
  loadIdentityFile,
  parseIdentities,
  parseIdentity,
  parseRecipient,
  recipientFingerprint,
} from "../../src/crypto/age";
import { HavenError } from "../../src/lib/errors";
import { makeTempDir, run } from "./helpers";

/** Runs `fn` and returns the HavenError it throws (failing the test if it throws nothing or something else). */
function thrown(fn: () => unknown): HavenError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HavenError);
    return error as HavenError;
  }
  throw new Error("expected a HavenError, nothing was thrown");
}

describe("age keys", () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir());
  });
  afterAll(async () => {
    await cleanup();
  });

  it("reads age-keygen's identity files and derives the same recipient as age-keygen -y", async () => {
    const keyFile = join(dir, "keygen.txt");
    await run("age-keygen", ["-o", keyFile]);
    const { stdout } = await run("age-keygen", ["-y", keyFile]);
    const identities = await loadIdentityFile(keyFile);
    expect(identities).toHaveLength(1);
    expect(identities[0]!.recipient.text).toBe(stdout.trim());
    expect(parseRecipient(stdout.trim()).publicKey.equals(identities[0]!.recipient.publicKey)).toBe(true);
  });

  it("generates identities that age-keygen -y accepts and that round-trip through parsing", async () => {
    const { identity, recipient } = generateIdentity();
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(parseIdentity(identity).recipient.text).toBe(recipient);
    const keyFile = join(dir, "generated.txt");
    await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
    const { stdout } = await run("age-keygen", ["-y", keyFile]);
    expect(stdout.trim()).toBe(recipient);
    expect(generateIdentity().identity).not.toBe(identity);
  });

  it("parses identity files with comments, blank lines, CRLF and several keys", () => {
    const a = generateIdentity();
    const b = generateIdentity();
    const text = `# created: now\r\n# public key: ${a.recipient}\r\n\r\n${a.identity}\r\n  \n# second\n${b.identity}\n`;
    expect(parseIdentities(text).map((identity) => identity.recipient.text)).toEqual([
      a.recipient,
      b.recipient,
    ]);
  });

  it("accepts an all-uppercase recipient and canonicalises it to lowercase", () => {
    const { recipient } = generateIdentity();
    expect(parseRecipient(recipient.toUpperCase()).text).toBe(recipient);
    expect(recipientFingerprint(recipient.toUpperCase())).toBe(recipientFingerprint(recipient));
  });

  it("fingerprints a recipient as the sha256 of its text", async () => {
    const { recipient } = generateIdentity();
    const { stdout } = await run("sh", ["-c", `printf %s "${recipient}" | sha256sum`]);
    expect(recipientFingerprint(recipient)).toBe(stdout.split(" ")[0]);
    expect(recipientFingerprint(parseRecipient(recipient))).toBe(recipientFingerprint(recipient));
  });

  it("never shows the secret of an identity when printed or serialised", () => {
    const { identity } = generateIdentity();
    const parsed = parseIdentity(identity);
    const shown =
      inspect(parsed, { depth: 10 }) +
      JSON.stringify(parsed) +
      inspect(parsed.privateKey, { showHidden: true });
    expect(shown).not.toContain(identity);
    expect(shown).not.toContain(identity.toLowerCase());
    expect(shown.toLowerCase()).not.toContain(identity.slice(16, 40).toLowerCase());
  });

  describe("malformed recipients fail with CONFIG and say why", () => {
    const valid = generateIdentity().recipient;
    const words = bech32.decode(valid).words;
    const cases: Array<[string, string, RegExp]> = [
      ["empty", "", /not a valid age recipient/],
      ["bad checksum", valid.slice(0, -1) + (valid.endsWith("q") ? "p" : "q"), /checksum/],
      ["mixed case", valid.slice(0, 10) + valid.slice(10).toUpperCase(), /not a valid age recipient/],
      ["an identity instead", generateIdentity().identity, /not an age X25519 recipient/],
      ["a plugin recipient", bech32.encode("age1yubikey", words), /age plugins are not supported/],
      ["a post-quantum recipient", bech32.encode("age1pq", words), /post-quantum/],
      ["an SSH key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG8 user@host", /SSH public keys/],
      ["a short key", bech32.encode("age", bech32.toWords(Buffer.alloc(31, 1))), /31 bytes/],
      ["surrounding text", ` ${valid}`, /not a valid age recipient/],
    ];
    it.each(cases)("%s", (_name, text, message) => {
      const error = thrown(() => parseRecipient(text));
      expect(error.code).toBe("CONFIG");
      expect(error.exitCode).toBe(2);
      expect(error.message).toMatch(message);
      expect(error.hint).toMatch(/age-keygen/);
    });
  });

  describe("malformed identities fail with CONFIG, name the line, and never quote the key", () => {
    const { identity, recipient } = generateIdentity();
    const corrupted = identity.slice(0, 30) + (identity[30] === "Q" ? "P" : "Q") + identity.slice(31);
    const cases: Array<[string, string, RegExp]> = [
      ["bad checksum", `# key\n\n${corrupted}\n`, /:3: not a valid age identity/],
      ["a recipient instead", `${recipient}\n`, /:1: not a valid age identity/],
      ["a plugin identity", `AGE-PLUGIN-YUBIKEY-1QQQQQQ\n`, /:1: only X25519 identities/],
      ["a post-quantum identity", `${identity}\nAGE-SECRET-KEY-PQ-1QQQQ\n`, /:2: only X25519 identities/],
      [
        "a short key",
        `${bech32.encode("age-secret-key-", bech32.toWords(Buffer.alloc(16, 7))).toUpperCase()}\n`,
        /:1: .*32-byte/,
      ],
      ["only comments", "# nothing here\n\n", /holds no identity/],
    ];
    it.each(cases)("%s", (_name, text, message) => {
      const error = thrown(() => parseIdentities(text, "keys.txt"));
      expect(error.code).toBe("CONFIG");
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain(identity);
      expect(error.message).not.toContain(corrupted);
      expect(error.hint).toBeTruthy();
    });
  });

  it("loadIdentityFile explains a missing file, a directory and a malformed file", async () => {
    const missing = join(dir, "missing.txt");
    await expect(loadIdentityFile(missing)).rejects.toMatchObject({
      code: "CONFIG",
      message: `age identity file ${missing} does not exist`,
      // The path may have come from --identity or HAVEN_IDENTITY_FILE, not only from the config.
      hint: expect.stringMatching(/--identity, HAVEN_IDENTITY_FILE or encryption\.identityFile/),
    });
    const subdir = join(dir, "a-directory");
    await mkdir(subdir);
    await expect(loadIdentityFile(subdir)).rejects.toMatchObject({
      code: "CONFIG",
      message: expect.stringMatching(/is a directory/),
    });
    const bad = join(dir, "bad.txt");
    await writeFile(bad, "# comment\nAGE-SECRET-KEY-1NOTAKEY\n", { mode: 0o600 });
    await expect(loadIdentityFile(bad)).rejects.toMatchObject({
      code: "CONFIG",
      message: `${bad}:2: not a valid age identity (AGE-SECRET-KEY-1...)`,
    });
  });

  it("loadIdentityFile refuses a file far larger than any identity file (a wrong path) without reading it whole", async () => {
    const huge = join(dir, "huge.txt");
    const { identity } = generateIdentity();
    await writeFile(huge, `${identity}\n${"# padding\n".repeat(200_000)}`, { mode: 0o600 });
    await expect(loadIdentityFile(huge)).rejects.toMatchObject({
      code: "CONFIG",
      message: `age identity file ${huge} is larger than 1048576 bytes: not an identity file`,
    });
  });

  it("loadIdentityFile refuses a key file its group or others may access, as ssh does, saying chmod 600", async () => {
    const { identity } = generateIdentity();
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      const file = join(dir, `open-${mode.toString(8)}.txt`);
      await writeFile(file, `${identity}\n`);
      await chmod(file, mode); // writeFile's mode passes through the umask; chmod sets it exactly
      const error = (await loadIdentityFile(file).catch((e: unknown) => e)) as HavenError;
      expect(error).toBeInstanceOf(HavenError);
      expect(error).toMatchObject({
        code: "CONFIG",
        message: `age identity file ${file} is accessible by its group or others (mode 0${mode.toString(8)}): anyone who can read it can decrypt every snapshot`,
      });
      expect(error.hint).toMatch(new RegExp(`^chmod 600 ${file} `));
      expect(`${error.message} ${error.hint}`).not.toContain(identity);
    }
    for (const mode of [0o600, 0o400]) {
      const file = join(dir, `private-${mode.toString(8)}.txt`);
      await writeFile(file, `${identity}\n`);
      await chmod(file, mode);
      expect(await loadIdentityFile(file)).toHaveLength(1);
    }
  });

  it("loadIdentityFile given the key itself instead of a path refuses without quoting it", async () => {
    const key = "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS7HQWEX";
    const error = (await loadIdentityFile(key).catch((e: unknown) => e)) as Error & { hint?: string };
    expect(error).toMatchObject({
      code: "CONFIG",
      message: expect.stringContaining("holds a secret key") as string,
    });
    expect(`${error.message} ${error.hint ?? ""}`).not.toContain("AGE-SECRET-KEY-1Q");
  });
});
