/**
 * Database tools quote the data they choke on: pg_restore's `CONTEXT: COPY orders, line 7: "…"` and
 * `Failing row contains (…)`, MySQL's `near '…'` and `Duplicate entry '…'`. Their stderr becomes an
 * error message, and that is stored in clear (audit trail, verification records in the bucket, logs,
 * alerts) while the snapshot itself may be encrypted. So the quoted data is withheld; the table, line,
 * column and key names that locate the problem stay.
 */
const WITHHELD = "[data withheld]";

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // PostgreSQL: the COPY line's contents, a failing row, a key's value.
  [/(COPY [^\n,]+, line \d+)(?:, column [^\n:]+)?: [^\n]*/g, `$1: ${WITHHELD}`],
  [/(Failing row contains )\([^\n]*\)/g, `$1${WITHHELD}`],
  [/(Key \([^\n)]*\))=\([^\n]*?\)( already exists| is not present| conflicts)/g, `$1=${WITHHELD}$2`],
  // MySQL / MariaDB: the statement text near a syntax error, a duplicate value, a printed query.
  [/( near )'[^\n]*' at line (\d+)/g, `$1${WITHHELD} at line $2`],
  [/(Duplicate entry )'[^\n]*'( for key)/g, `$1${WITHHELD}$2`],
  [/(Incorrect [a-z]+ value: )'[^\n]*'( for column)/gi, `$1${WITHHELD}$2`],
];

export function withholdRowData(stderr: string): string {
  let out = stderr;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
