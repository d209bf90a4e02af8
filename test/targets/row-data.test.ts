import { withholdRowData } from "../../src/targets/row-data";

describe("withholdRowData", () => {
  test("keeps where PostgreSQL failed and withholds the rows it quotes", () => {
    const stderr = [
      'pg_restore: error: COPY failed for table "orders": ERROR:  invalid input syntax for type integer: "x"',
      'CONTEXT:  COPY orders, line 7, column amount: "card 4111-1111-1111-1111 alice"',
      "DETAIL:  Failing row contains (7, alice@example.com, null).",
      "DETAIL:  Key (email)=(alice@example.com) already exists.",
    ].join("\n");
    expect(withholdRowData(stderr)).toBe(
      [
        'pg_restore: error: COPY failed for table "orders": ERROR:  invalid input syntax for type integer: "x"',
        "CONTEXT:  COPY orders, line 7: [data withheld]",
        "DETAIL:  Failing row contains [data withheld].",
        "DETAIL:  Key (email)=[data withheld] already exists.",
      ].join("\n"),
    );
  });

  test("keeps where MySQL failed and withholds the statement text and values it quotes", () => {
    const stderr = [
      "ERROR 1064 (42000) at line 12: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'valuez (1,'TOP-SECRET')' at line 1",
      "ERROR 1062 (23000) at line 40: Duplicate entry 'alice@example.com' for key 'PRIMARY'",
      "ERROR 1366 (22007) at line 41: Incorrect integer value: 'TOP-SECRET' for column `db`.`t`.`n` at row 1",
    ].join("\n");
    const out = withholdRowData(stderr);
    expect(out).not.toMatch(/TOP-SECRET|alice/);
    expect(out.split("\n")).toEqual([
      "ERROR 1064 (42000) at line 12: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near [data withheld] at line 1",
      "ERROR 1062 (23000) at line 40: Duplicate entry [data withheld] for key 'PRIMARY'",
      "ERROR 1366 (22007) at line 41: Incorrect integer value: [data withheld] for column `db`.`t`.`n` at row 1",
    ]);
  });

  test("leaves other messages alone", () => {
    const text = 'pg_dump: error: connection to server at "db" (10.0.0.5), port 5432 failed: timeout';
    expect(withholdRowData(text)).toBe(text);
  });
});
