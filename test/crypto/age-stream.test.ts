import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { bech32 } from "bech32";
import {
  createDecryptStream,
  createEncryptStream,
  generateIdentity,
  parseIdentity,
  parseRecipient,
  type AgeIdentity,
} from "../../src/crypto/age";
import { encodeHeader } from "../../src/crypto/header";
import { payloadKey, sealChunk } from "../../src/crypto/payload";
import { wrapFileKey } from "../../src/crypto/x25519-stanza";
import { isHavenError } from "../../src/lib/errors";
import { makeTempDir, run, runThrough, type StreamOutcome } from "./helpers";

const CHUNK = 65536;
const SEALED = CHUNK + 16;

function newKey(): { identity: AgeIdentity; recipient: string } {
  const generated = generateIdentity();
  return { identity: parseIdentity(generated.identity), recipient: generated.recipient };
}

async function encrypt(plain: Buffer, recipients: string[], pieceSize = 10_007): Promise<Buffer> {
  const outcome = await runThrough(createEncryptStream(recipients.map(parseRecipient)), plain, pieceSize);
  expect(outcome.error).toBeNull();
  return outcome.output;
}

/** Where the payload (16-byte nonce, then chunks) starts. */
function payloadStart(ciphertext: Buffer): number {
  return ciphertext.indexOf("\n---") + 1 + 48;
}

function chunkStart(ciphertext: Buffer, index: number): number {
  return payloadStart(ciphertext) + 16 + index * SEALED;
}

function flipBit(bytes: Buffer, at: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ (1 << bit);
  return copy;
}

/** A decryption failure: DECRYPT / exit 12, a hint, and no 'end' (the consumer never sees a clean finish). */
function expectDecryptFailure(outcome: StreamOutcome, message?: RegExp): void {
  expect(outcome.ended).toBe(false);
  expect(isHavenError(outcome.error, "DECRYPT")).toBe(true);
  if (!isHavenError(outcome.error)) return;
  expect(outcome.error.exitCode).toBe(12);
  expect(outcome.error.hint).toBeTruthy();
  if (message) expect(outcome.error.message).toMatch(message);
}

describe("age streams", () => {
  const alice = newKey();
  const bob = newKey();
  const mallory = newKey();
  // Three full chunks and a short final one.
  const plain = randomBytes(3 * CHUNK + 1000);
  let ciphertext: Buffer;
  // A plaintext that is a whole number of chunks, so its final chunk is full.
  const aligned = randomBytes(2 * CHUNK);
  let alignedCiphertext: Buffer;

  beforeAll(async () => {
    ciphertext = await encrypt(plain, [alice.recipient, bob.recipient]);
    alignedCiphertext = await encrypt(aligned, [alice.recipient]);
  });

  describe("round trips", () => {
    it.each([1, 13, 4096, SEALED - 1, SEALED, SEALED + 1, 1 << 20])(
      "decrypts correctly whatever the input piece size (%i bytes)",
      async (pieceSize) => {
        const small = plain.subarray(0, pieceSize < 64 ? 150_000 : plain.length);
        const encrypted = await encrypt(small, [alice.recipient], pieceSize);
        const outcome = await runThrough(createDecryptStream([alice.identity]), encrypted, pieceSize);
        expect(outcome.error).toBeNull();
        expect(outcome.ended).toBe(true);
        expect(outcome.output.equals(small)).toBe(true);
      },
    );

    it("with two recipients, either identity decrypts", async () => {
      for (const identity of [alice.identity, bob.identity]) {
        const outcome = await runThrough(createDecryptStream([identity]), ciphertext);
        expect(outcome.error).toBeNull();
        expect(outcome.output.equals(plain)).toBe(true);
      }
    });

    it("tries every identity given, in order", async () => {
      const outcome = await runThrough(createDecryptStream([mallory.identity, bob.identity]), ciphertext);
      expect(outcome.error).toBeNull();
      expect(outcome.output.equals(plain)).toBe(true);
    });

    it("uses a fresh file key and nonce for every stream", async () => {
      const again = await encrypt(plain, [alice.recipient, bob.recipient]);
      expect(again.subarray(chunkStart(again, 0), chunkStart(again, 1))).not.toEqual(
        ciphertext.subarray(chunkStart(ciphertext, 0), chunkStart(ciphertext, 1)),
      );
    });

    it("keeps memory bounded and honours backpressure on a 48 MiB stream", async () => {
      const block = randomBytes(CHUNK);
      const total = 768;
      const expected = createHash("sha256");
      for (let i = 0; i < total; i++) expected.update(block);
      const encryptStream = createEncryptStream([parseRecipient(alice.recipient)]);
      const decryptStream = createDecryptStream([alice.identity]);
      let maxBuffered = 0;
      const actual = createHash("sha256");
      let received = 0;
      const sink = new Writable({
        highWaterMark: CHUNK,
        write(chunk: Buffer, _encoding, callback) {
          actual.update(chunk);
          received += chunk.length;
          const buffered =
            encryptStream.readableLength +
            encryptStream.writableLength +
            decryptStream.readableLength +
            decryptStream.writableLength;
          maxBuffered = Math.max(maxBuffered, buffered);
          // A slow consumer: the producers must wait for it instead of buffering ahead.
          setImmediate(callback);
        },
      });
      await pipeline(
        Readable.from(
          (function* () {
            for (let i = 0; i < total; i++) yield block;
          })(),
        ),
        encryptStream,
        decryptStream,
        sink,
      );
      expect(received).toBe(total * CHUNK);
      expect(actual.digest("hex")).toBe(expected.digest("hex"));
      // Sealed in 1 MiB batches (a few in flight, one waiting for the reader): bounded well below the
      // 48 MiB that went through, whatever the stream's length.
      expect(maxBuffered).toBeLessThan(6 * 1024 * 1024);
    });
  });

  describe("refuses, with DECRYPT and no 'end'", () => {
    it("a wrong identity", async () => {
      const outcome = await runThrough(createDecryptStream([mallory.identity]), ciphertext);
      expectDecryptFailure(outcome, /none of the given identities/);
      expect(outcome.output.length).toBe(0);
    });

    it.each([
      ["mid-chunk", (c: Buffer) => chunkStart(c, 1) + 1000, CHUNK],
      // Chunk 1 is complete but cannot be told from a final chunk until more bytes come: it is withheld.
      ["exactly at a chunk boundary", (c: Buffer) => chunkStart(c, 2), CHUNK],
      ["inside the final chunk's tag", (c: Buffer) => c.length - 1, 3 * CHUNK],
      ["right after the nonce", (c: Buffer) => chunkStart(c, 0), 0],
      ["inside the nonce", (c: Buffer) => payloadStart(c) + 8, 0],
      ["right after the header", (c: Buffer) => payloadStart(c), 0],
      ["inside the header", (c: Buffer) => payloadStart(c) - 10, 0],
      ["to nothing", () => 0, 0],
    ])(
      "a ciphertext truncated %s, after emitting only authenticated chunks",
      async (_name, cutAt, authenticated) => {
        const outcome = await runThrough(
          createDecryptStream([alice.identity]),
          ciphertext.subarray(0, cutAt(ciphertext)),
        );
        expectDecryptFailure(outcome);
        expect(outcome.output.equals(plain.subarray(0, authenticated))).toBe(true);
      },
    );

    it("a chunk-aligned ciphertext cut at the boundary before its full final chunk", async () => {
      const outcome = await runThrough(
        createDecryptStream([alice.identity]),
        alignedCiphertext.subarray(0, chunkStart(alignedCiphertext, 1)),
      );
      expectDecryptFailure(outcome, /without a final chunk: it was cut short/);
      expect(outcome.output.length).toBe(0);
    });

    it.each([
      ["the version line", () => 3, /not an age-encrypted file/],
      ["a stanza's ephemeral share", (c: Buffer) => c.indexOf("X25519 ") + 10, undefined],
      ["a stanza's body", (c: Buffer) => c.indexOf("\n", c.indexOf("X25519 ")) + 5, undefined],
      ["the MAC", (c: Buffer) => c.indexOf("\n--- ") + 10, undefined],
    ])("a flipped bit in %s", async (_name, at, message) => {
      // Bit 0 and bit 1 give different kinds of damage in base64 text (another letter, or a non-base64 byte).
      for (const bit of [0, 1, 5]) {
        const outcome = await runThrough(
          createDecryptStream([alice.identity]),
          flipBit(ciphertext, at(ciphertext), bit),
        );
        expectDecryptFailure(outcome, message);
        expect(outcome.output.length).toBe(0);
      }
    });

    it("a header whose MAC was recomputed by no one (altered recipient list, valid stanza)", async () => {
      // Drop Bob's stanza: Alice's stanza still unwraps, so only the MAC can catch the change.
      const text = ciphertext.subarray(0, payloadStart(ciphertext)).toString("latin1");
      const lines = text.split("\n");
      const edited = Buffer.concat([
        Buffer.from([lines[0], lines[1], lines[2], lines[5], ""].join("\n"), "latin1"),
        ciphertext.subarray(payloadStart(ciphertext)),
      ]);
      const outcome = await runThrough(createDecryptStream([alice.identity]), edited);
      expectDecryptFailure(outcome, /header MAC does not match/);
    });

    it("a flipped bit in a payload chunk, emitting only the chunks before it", async () => {
      const outcome = await runThrough(
        createDecryptStream([alice.identity]),
        flipBit(ciphertext, chunkStart(ciphertext, 1) + 500),
      );
      expectDecryptFailure(outcome, /chunk 1 of the age payload failed authentication/);
      expect(outcome.output.equals(plain.subarray(0, CHUNK))).toBe(true);
    });

    it("a flipped bit in the payload nonce or in the final chunk's tag", async () => {
      for (const at of [payloadStart(ciphertext) + 3, ciphertext.length - 1]) {
        const outcome = await runThrough(createDecryptStream([alice.identity]), flipBit(ciphertext, at));
        expectDecryptFailure(outcome, /failed authentication/);
      }
    });

    it("swapped chunks", async () => {
      const a = chunkStart(ciphertext, 0);
      const b = chunkStart(ciphertext, 1);
      const swapped = Buffer.concat([
        ciphertext.subarray(0, a),
        ciphertext.subarray(b, b + SEALED),
        ciphertext.subarray(a, b),
        ciphertext.subarray(b + SEALED),
      ]);
      expectDecryptFailure(await runThrough(createDecryptStream([alice.identity]), swapped), /chunk 0/);
    });

    it.each([
      ["one byte", 1],
      ["a few bytes", 15],
      ["a whole chunk's worth", SEALED + 3],
    ])("trailing garbage (%s) after a short final chunk", async (_name, length) => {
      const outcome = await runThrough(
        createDecryptStream([alice.identity]),
        Buffer.concat([ciphertext, randomBytes(length)]),
      );
      expectDecryptFailure(outcome);
      expect(outcome.output.length).toBeLessThanOrEqual(3 * CHUNK);
    });

    it("trailing garbage after a full final chunk, named as such", async () => {
      const outcome = await runThrough(
        createDecryptStream([alice.identity]),
        Buffer.concat([alignedCiphertext, Buffer.from("x")]),
      );
      expectDecryptFailure(outcome, /unexpected data after the final chunk/);
      expect(outcome.output.equals(aligned.subarray(0, CHUNK))).toBe(true);
    });

    it("an empty final chunk after a full one (the format forbids it)", async () => {
      const fileKey = randomBytes(16);
      const nonce = randomBytes(16);
      const key = payloadKey(fileKey, nonce);
      const forged = Buffer.concat([
        encodeHeader([wrapFileKey(fileKey, parseRecipient(alice.recipient))], fileKey),
        nonce,
        ...sealChunk(key, 0, false, [randomBytes(CHUNK)]),
        ...sealChunk(key, 1, true, []),
      ]);
      const outcome = await runThrough(createDecryptStream([alice.identity]), forged);
      expectDecryptFailure(outcome, /empty final chunk/);
      expect(outcome.output.length).toBe(CHUNK);
    });

    it("input that is not age, or is ASCII-armored age", async () => {
      expectDecryptFailure(
        await runThrough(createDecryptStream([alice.identity]), Buffer.from("hello, world\n")),
        /not an age-encrypted file/,
      );
      const { dir, cleanup } = await makeTempDir();
      try {
        const plainFile = join(dir, "plain.txt");
        await writeFile(plainFile, "armored\n");
        const { stdout } = await run("age", ["-a", "-r", alice.recipient, plainFile]);
        expectDecryptFailure(
          await runThrough(createDecryptStream([alice.identity]), Buffer.from(stdout)),
          /ASCII-armored/,
        );
      } finally {
        await cleanup();
      }
    });
  });

  it("refuses to build streams without keys", () => {
    const codeOf = (build: () => unknown): unknown => {
      try {
        build();
      } catch (error) {
        return isHavenError(error) ? error.code : error;
      }
      return "nothing thrown";
    };
    expect(codeOf(() => createEncryptStream([]))).toBe("CONFIG");
    expect(codeOf(() => createDecryptStream([]))).toBe("DECRYPT");
    // The all-zero point parses as 32 bytes but gives an all-zero shared secret, which age forbids.
    const lowOrder = parseRecipient(bech32.encode("age", bech32.toWords(Buffer.alloc(32))));
    expect(codeOf(() => createEncryptStream([lowOrder]))).toBe("CONFIG");
  });
});

test("an encrypt stream torn down while its writer waits for the reader stops re-checking (no timer left behind)", async () => {
  const { recipient } = newKey();
  const stream = createEncryptStream([parseRecipient(recipient)]);
  // Nobody reads: after a few MiB the writer is held back, re-checking on a short timer.
  const piece = randomBytes(1 << 20);
  for (let i = 0; i < 8; i++) stream.write(piece);
  await new Promise((r) => setTimeout(r, 100));
  stream.on("error", () => undefined);
  stream.destroy(new Error("the upload failed"));
  const armed = jest.spyOn(global, "setTimeout");
  try {
    await new Promise((r) => setImmediate(r));
    const before = armed.mock.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    // Only this test's own 100 ms wait was armed since: no re-check timer re-armed itself.
    expect(armed.mock.calls.slice(before).filter(([, ms]) => ms !== 100)).toEqual([]);
  } finally {
    armed.mockRestore();
  }
});
