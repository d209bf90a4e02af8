import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createDecryptStream,
  createEncryptStream,
  generateIdentity,
  parseIdentity,
  parseRecipient,
  type AgeIdentity,
} from "../../src/crypto/age";
import { makeTempDir, run, runThrough } from "./helpers";

/** Interoperability with Debian's `age` CLI, both ways, at and around the 64 KiB chunk boundaries. */
describe("age v1 interop with the age CLI", () => {
  const sizes: Array<[string, number]> = [
    ["empty", 0],
    ["1 byte", 1],
    ["one chunk minus one", 65535],
    ["exactly one chunk", 65536],
    ["one chunk plus one", 65537],
    ["exactly three chunks", 3 * 65536],
    // From one batch (16 chunks, 1 MiB) on, chunks are sealed on the sealing thread.
    ["exactly one batch (sealed inline)", 1024 * 1024],
    ["one batch plus one (the thread's final chunk is 1 byte)", 1024 * 1024 + 1],
    ["exactly three batches (the thread's final chunk is full)", 3 * 1024 * 1024],
    ["about 5 MB", 5 * 1024 * 1024 + 12345],
  ];
  let dir: string;
  let cleanup: () => Promise<void>;
  let keyFile: string;
  let recipientText: string;
  let identity: AgeIdentity;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir());
    keyFile = join(dir, "key.txt");
    await run("age-keygen", ["-o", keyFile]);
    recipientText = (await run("age-keygen", ["-y", keyFile])).stdout.trim();
    identity = parseIdentity(
      (await readFile(keyFile, "utf8")).split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1"))!,
    );
  });
  afterAll(async () => {
    await cleanup();
  });

  it.each(sizes)(
    "Haven encrypts %s (%i bytes) and `age -d` decrypts it byte-identical",
    async (_name, size) => {
      const plain = randomBytes(size);
      const plainFile = join(dir, `haven-${size}.bin`);
      const encryptedFile = `${plainFile}.age`;
      await writeFile(plainFile, plain);
      await pipeline(
        createReadStream(plainFile),
        createEncryptStream([parseRecipient(recipientText)]),
        createWriteStream(encryptedFile),
      );
      // Through stdout: `age -o` creates no file at all for an empty plaintext.
      const { stdout } = await run("age", ["-d", "-i", keyFile, encryptedFile], {
        encoding: "buffer",
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(stdout.equals(plain)).toBe(true);
      // The payload is exactly header + 16-byte nonce + one 16-byte tag per chunk (at least one chunk).
      const chunks = Math.max(1, Math.ceil(size / 65536));
      const encrypted = await readFile(encryptedFile);
      const headerLength = encrypted.indexOf("\n---") + 1 + 48;
      expect(encrypted.length).toBe(headerLength + 16 + size + 16 * chunks);
    },
  );

  it.each(sizes)(
    "`age -r` encrypts %s (%i bytes) and Haven decrypts it byte-identical",
    async (_name, size) => {
      const plain = randomBytes(size);
      const plainFile = join(dir, `cli-${size}.bin`);
      const encryptedFile = `${plainFile}.age`;
      await writeFile(plainFile, plain);
      await run("age", ["-r", recipientText, "-o", encryptedFile, plainFile]);
      const decrypted: Buffer[] = [];
      await pipeline(
        createReadStream(encryptedFile),
        createDecryptStream([identity]),
        async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) decrypted.push(chunk);
        },
      );
      expect(Buffer.concat(decrypted).equals(plain)).toBe(true);
    },
  );

  it("Haven encrypts to two recipients and `age -d` decrypts with either key file", async () => {
    const otherKeyFile = join(dir, "other.txt");
    await run("age-keygen", ["-o", otherKeyFile]);
    const otherRecipient = (await run("age-keygen", ["-y", otherKeyFile])).stdout.trim();
    const plain = randomBytes(70_000);
    const encryptedFile = join(dir, "two.age");
    await pipeline(
      Readable.from([plain]),
      createEncryptStream([parseRecipient(recipientText), parseRecipient(otherRecipient)]),
      createWriteStream(encryptedFile),
    );
    for (const key of [keyFile, otherKeyFile]) {
      const { stdout } = await run("age", ["-d", "-i", key, encryptedFile], { encoding: "buffer" });
      expect(stdout.equals(plain)).toBe(true);
    }
    const strangerKeyFile = join(dir, "stranger.txt");
    await run("age-keygen", ["-o", strangerKeyFile]);
    await expect(run("age", ["-d", "-i", strangerKeyFile, encryptedFile])).rejects.toThrow(
      /no identity matched/,
    );
  });

  it("decrypts what the age CLI encrypted to several recipients (with grease stanzas) with the second key", async () => {
    const other = generateIdentity();
    const plain = randomBytes(100_000);
    const plainFile = join(dir, "multi.bin");
    await writeFile(plainFile, plain);
    await run("age", ["-r", other.recipient, "-r", recipientText, "-o", `${plainFile}.age`, plainFile]);
    const outcome = await runThrough(createDecryptStream([identity]), await readFile(`${plainFile}.age`), 3);
    expect(outcome.error).toBeNull();
    expect(outcome.output.equals(plain)).toBe(true);
  });
});
