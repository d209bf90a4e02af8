/**
 * Backups and copies look for every object once more before they write a manifest: one that vanished
 * (maintenance taking a long run for a crashed one) or shrank must stop the commit, retryably.
 */
import { Readable } from "node:stream";
import { assertPayloadPresent } from "../../src/catalog/payload-present";
import { silentLogger } from "../../src/lib/logger";
import { createStorage } from "../../src/storage";
import { tempDir } from "../helpers/s3-config";

test("a manifest is written only over objects that are there with the size it records", async () => {
  const storage = createStorage(
    { name: "nas", type: "filesystem", path: await tempDir("haven-payload-present"), prefix: "" },
    silentLogger,
  );
  try {
    const put = (key: string, text: string) => storage.put(key, Readable.from([Buffer.from(text)]));
    const data = await put("t/20261206T000000Z-aaaa/data.tar.zst", "twelve bytes");
    const globals = await put("t/20261206T000000Z-aaaa/globals.sql.zst", "nine byte");
    const objects = [
      { key: "t/20261206T000000Z-aaaa/data.tar.zst", size: data.size },
      { key: "t/20261206T000000Z-aaaa/globals.sql.zst", size: globals.size },
    ];
    await expect(assertPayloadPresent(storage, objects)).resolves.toBeUndefined();

    await storage.remove(["t/20261206T000000Z-aaaa/globals.sql.zst"]);
    await expect(assertPayloadPresent(storage, objects)).rejects.toMatchObject({
      code: "TRANSIENT",
      message:
        "t/20261206T000000Z-aaaa/globals.sql.zst vanished from nas after it was written; the snapshot was not committed",
    });

    await put("t/20261206T000000Z-aaaa/globals.sql.zst", "short");
    await expect(assertPayloadPresent(storage, objects)).rejects.toMatchObject({
      code: "TRANSIENT",
      message: expect.stringContaining("has 5 bytes, not the 9 just written") as string,
    });
  } finally {
    await storage.close();
  }
});
