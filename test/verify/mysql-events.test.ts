/** The dump filter of MySQL restore tests: events created disabled, every other byte as it was. */
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { withEventsDisabled } from "../../src/verify/scratch/mysql-events";

const header = (status: string, rest = "DO insert into t values (1)") =>
  `/*!50106 CREATE*/ /*!50117 DEFINER=\`root\`@\`%\`*/ /*!50106 EVENT \`e\` ON SCHEDULE EVERY 1 MINUTE STARTS '2026-01-01 00:00:00' ON COMPLETION NOT PRESERVE ${status} ${rest}\n*/ ;;\n`;

const dump = [
  "-- MariaDB dump\n",
  `INSERT INTO \`t\` VALUES ('/*!50106 CREATE*/ ON COMPLETION PRESERVE ENABLE x'),(${"9".repeat(100_000)});\n`,
  header("ENABLE"),
  header("ENABLE", "COMMENT 'ON COMPLETION PRESERVE ENABLE' DO select 'é'"),
  header("DISABLE ON SLAVE"),
  "/*!50106 CREATE",
].join("");
const expected = dump
  .replace(header("ENABLE"), header("DISABLE"))
  .replace(
    header("ENABLE", "COMMENT 'ON COMPLETION PRESERVE ENABLE' DO select 'é'"),
    header("DISABLE", "COMMENT 'ON COMPLETION PRESERVE ENABLE' DO select 'é'"),
  );

test.each([
  ["one chunk", [Buffer.from(dump)]],
  ["one byte at a time", [...Buffer.from(dump)].map((b) => Buffer.from([b]))],
  [
    "chunks of 7 bytes",
    Array.from({ length: Math.ceil(dump.length / 7) }, (_, i) =>
      Buffer.from(dump).subarray(i * 7, i * 7 + 7),
    ),
  ],
])("event headers only are rewritten, whatever the chunks (%s)", async (_, chunks) => {
  expect((await buffer(withEventsDisabled(Readable.from(chunks)))).toString()).toBe(expected);
});

test("an error of the dump reaches the reader", async () => {
  const failing = new Readable({
    read() {
      this.destroy(new Error("damaged"));
    },
  });
  await expect(buffer(withEventsDisabled(failing))).rejects.toThrow("damaged");
});
