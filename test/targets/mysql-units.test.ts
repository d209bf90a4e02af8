/** Pure logic of the mysql adapter: the dump row counter, option files, URL resolution, stderr classes. */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Secret } from "../../src/lib/secret";
import { optionFileText, optionValue, resolveMysqlConnection } from "../../src/targets/mysql/connection";
import { classifyMysqlStderr } from "../../src/targets/mysql/errors";
import { DumpRowCounter } from "../../src/targets/mysql/row-counter";

const MARIADB_STYLE = `/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB
--
-- Table structure for table \`odd\`\`name\`
--

CREATE TABLE \`odd\`\`name\` (
  \`id\` int(11) NOT NULL,
  \`s\` text DEFAULT NULL
);

--
-- Dumping data for table \`odd\`\`name\`
--

LOCK TABLES \`odd\`\`name\` WRITE;
/*!40000 ALTER TABLE \`odd\`\`name\` DISABLE KEYS */;
INSERT INTO \`odd\`\`name\` VALUES
(1,'it\\'s (a) test'),
(2,'x),(y;z'),
(3,'back\\\\slash\\\\'),
(4,NULL);
INSERT INTO \`odd\`\`name\` VALUES
(5,'line\\nbreak (');
/*!40000 ALTER TABLE \`odd\`\`name\` ENABLE KEYS */;
UNLOCK TABLES;
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER t AFTER INSERT ON \`odd\`\`name\` FOR EACH ROW
INSERT INTO \`odd\`\`name\` VALUES (99, 'from trigger') */;;
DELIMITER ;

--
-- Dumping data for table \`empty\`
--

LOCK TABLES \`empty\` WRITE;
UNLOCK TABLES;

--
-- Dumping data for table \`blobs\`
--

LOCK TABLES \`blobs\` WRITE;
INSERT INTO \`blobs\` VALUES (1,0x00272829),(2,0x5C3B),(3,'');
UNLOCK TABLES;

--
-- Dumping routines for database 'shop'
--
DELIMITER ;;
CREATE DEFINER=\`root\`@\`%\` PROCEDURE \`p\`()
begin
INSERT INTO \`blobs\` VALUES (7,0x01);
end ;;
DELIMITER ;
`;

async function count(text: string, chunkSize: number): Promise<Record<string, number>> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  const counter = new DumpRowCounter("shop");
  const sink = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) void chunk;
  };
  await pipeline(Readable.from(chunks), counter, sink);
  return counter.counts;
}

describe("DumpRowCounter", () => {
  test("counts each table's rows exactly, whatever the chunk boundaries", async () => {
    const expected = { "shop.odd`name": 5, "shop.empty": 0, "shop.blobs": 3 };
    for (const size of [1, 2, 3, 7, 64, 100_000]) {
      expect(await count(MARIADB_STYLE, size)).toEqual(expected);
    }
  });

  test("MySQL's one-line extended inserts", async () => {
    const text = [
      "-- Dumping data for table `t`",
      "LOCK TABLES `t` WRITE;",
      "INSERT INTO `t` VALUES (1,'a'),(2,'(b)'),(3,'\\'');",
      "INSERT INTO `t` VALUES (4,'d');",
      "UNLOCK TABLES;",
      "",
    ].join("\n");
    expect(await count(text, 5)).toEqual({ "shop.t": 4 });
  });

  test("inserts with a column list (invisible or generated columns) count too", async () => {
    const text = [
      "-- Dumping data for table `inv`",
      "LOCK TABLES `inv` WRITE;",
      "INSERT INTO `inv` (`a`, `odd) (``name`, `h`) VALUES (1,'x)',5),",
      "(2,'(',5);",
      "INSERT INTO `inv` (`a`) VALUES (3);",
      "UNLOCK TABLES;",
      "-- Dumping data for table `inv2`",
      "INSERT INTO `inv2` (`a`) VALUES (1),(2);",
      "",
    ].join("\n");
    for (const size of [1, 2, 5, 100_000]) {
      expect(await count(text, size)).toEqual({ "shop.inv": 3, "shop.inv2": 2 });
    }
  });

  test("a quote ends a literal only after an even run of backslashes, wherever the chunks are cut", async () => {
    // Literals: a\\\'b( (an escaped backslash, then an escaped quote), \\\\ (two escaped
    // backslashes), x\' (an escaped quote), ) alone, '' (empty), \\ (one escaped backslash).
    const text = [
      "-- Dumping data for table `q`",
      "INSERT INTO `q` VALUES (1,'a\\\\\\'b('),(2,'\\\\\\\\'),(3,'x\\''),(4,')'),(5,''),(6,'\\\\');",
      "UNLOCK TABLES;",
      "",
    ].join("\n");
    expect(text).toContain("(1,'a\\\\\\'b('),");
    for (let size = 1; size <= 24; size++) expect(await count(text, size)).toEqual({ "shop.q": 6 });
  });

  test("passes every byte through unchanged", async () => {
    const counter = new DumpRowCounter("shop");
    const out: Buffer[] = [];
    await pipeline(
      Readable.from([Buffer.from(MARIADB_STYLE)]),
      counter,
      async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) out.push(chunk);
      },
    );
    expect(Buffer.concat(out).toString()).toBe(MARIADB_STYLE);
  });
});

describe("option files", () => {
  test("values are quoted so # is no comment, with the reader's escapes", () => {
    expect(optionValue('a#b"c\\d\ne')).toBe('"a#b\\"c\\\\d\\ne"');
  });

  test("TCP by default, socket when set, TLS per client flavour", () => {
    const conn = resolveMysqlConnection({
      name: "x",
      url: undefined,
      database: "shop",
      password: new Secret("pw"),
    });
    expect(optionFileText(conn, "mariadb")).toBe(
      '[client]\nuser="root"\npassword="pw"\nhost="127.0.0.1"\nport=3306\nprotocol=TCP\n',
    );
    const socket = { ...conn, socket: "/run/mysqld/mysqld.sock", password: undefined };
    expect(optionFileText(socket, "mariadb")).toBe(
      '[client]\nuser="root"\nhost=localhost\nsocket="/run/mysqld/mysqld.sock"\n',
    );
    const tls = { ...conn, tls: { enabled: true, ca: "/ca.pem", rejectUnauthorized: true } };
    expect(optionFileText(tls, "mariadb")).toContain('ssl-ca="/ca.pem"\nssl\nssl-verify-server-cert\n');
    expect(optionFileText(tls, "mysql")).toContain('ssl-ca="/ca.pem"\nssl-mode=VERIFY_IDENTITY\n');
  });

  test("url parts, fields first", () => {
    const conn = resolveMysqlConnection({
      name: "x",
      url: new Secret("mysql://app:p%23ss@db1:3307/shop"),
      user: "backup",
    });
    expect(conn).toMatchObject({ host: "db1", port: 3307, user: "backup", database: "shop" });
    expect(conn.password?.reveal()).toBe("p#ss");
    expect(() => resolveMysqlConnection({ name: "x", url: undefined })).toThrow(/no database/);
  });

  test("a url parameter the client would not get (a TLS demand) is a config error, for restore --to urls too", () => {
    const resolve = () =>
      resolveMysqlConnection({ name: "x", url: new Secret("mysql://app:s3cret@db1/shop?ssl-mode=REQUIRED") });
    expect(resolve).toThrow(
      /url parameter ssl-mode would be ignored \(a mysql url takes none\): use the target's fields: tls/,
    );
    expect(resolve).not.toThrow(/s3cret/);
  });
});

describe("stderr classification", () => {
  test.each([
    [
      "mariadb-dump: Got error: 1045: \"Access denied for user 'u'@'h' (using password: YES)\" when trying to connect",
      "CREDENTIALS",
    ],
    ["ERROR 1044 (42000): Access denied for user 'u'@'h' to database 'shop'", "SOURCE_FAILED"],
    ["mariadb-dump: Got error: 1049: \"Unknown database 'x'\" when selecting the database", "SOURCE_FAILED"],
    [
      "mariadb-dump: Got error: 2002: \"Can't connect to server on 'h' (115)\" when trying to connect",
      "SOURCE_FAILED",
    ],
    ["something else entirely", undefined],
  ])("%s → %s", (stderr, code) => {
    expect(classifyMysqlStderr(stderr)?.code).toBe(code);
  });

  test("grants hints differ from login hints", () => {
    expect(
      classifyMysqlStderr("ERROR 1044 (42000): Access denied for user 'u'@'h' to database 'shop'")?.hint,
    ).toMatch(/GRANT/);
    expect(
      classifyMysqlStderr("Got error: 1045: Access denied for user 'u'@'h' (using password: YES)")?.hint,
    ).toMatch(/password/);
  });
});
