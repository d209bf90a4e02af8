/**
 * The chain check behind `haven audit verify`, as a pure function over what was read from the bucket.
 *
 * What it finds, and how:
 * - an altered record: its content no longer hashes to its `sha256`; or someone recomputed that
 *   hash, and then the next record's `prevSha256` no longer matches it; or its stored bytes are not
 *   the canonical form Haven writes (an edit that changed only formatting);
 * - a removed record: a gap in `seq`, with `prevSha256` pointing to no record that exists; the oldest
 *   records: the chain no longer starts at #1; the newest: the head pointer names more records, or
 *   another sha256, than the chain ends with (see head.ts for what no check in the bucket can find);
 * - a reordered or moved record: it is stored under a key that does not match its own time and id,
 *   or it chains to a record other than the one stored before it;
 * - a fork: two records chain to the same predecessor (two writers appended without the Redis lock).
 * A head pointer that is merely behind a valid chain (a writer stopped between writing a record and
 * the pointer) is a warning: the next append repairs it.
 */
import { layout } from "../catalog/layout";
import { canonicalJson } from "./canonical-json";
import type { HeadRead } from "./head";
import { AUDIT_HEAD_KEY } from "./keys";
import { recordSha256, type AuditRecord } from "./record";

/** One record as read from the bucket: parsed, or why it could not be. */
export type ReadAuditEntry =
  { key: string; record: AuditRecord; raw: string } | { key: string; unreadable: string };

export interface AuditProblem {
  /** The object the problem is about (a record key, or `_audit/HEAD.json`). */
  key: string;
  /** One line, for an operator: what is wrong and what it likely means. */
  problem: string;
}

export interface ChainCheck {
  problems: AuditProblem[];
  warnings: AuditProblem[];
}

interface ReadRecord {
  key: string;
  record: AuditRecord;
  raw: string;
}

const short = (sha: string | null) => (sha === null ? "none" : sha.slice(0, 12));

/** Checks records given in key order (the order `storage.list` returns) against each other and the head. */
export function checkChain(entries: ReadonlyArray<ReadAuditEntry>, head: HeadRead): ChainCheck {
  const problems: AuditProblem[] = [];
  const warnings: AuditProblem[] = [];
  const records: ReadRecord[] = [];
  for (const entry of entries) {
    if ("unreadable" in entry) problems.push({ key: entry.key, problem: `unreadable: ${entry.unreadable}` });
    else records.push(entry);
  }

  for (const entry of records) problems.push(...checkRecordItself(entry));
  // A fork's later branches are reported as such, not also as each broken link the fork causes.
  const forks = checkForks(records);
  const forked = new Set(forks.map((problem) => problem.key));
  problems.push(...checkLinks(entries, records).filter((problem) => !forked.has(problem.key)));
  problems.push(...forks);
  const headCheck = checkHead(records, head);
  problems.push(...headCheck.problems);
  warnings.push(...headCheck.warnings);
  return { problems, warnings };
}

/** Content against its own hash, its bytes against the canonical form, its key against its time and id. */
function checkRecordItself({ key, record, raw }: ReadRecord): AuditProblem[] {
  const out: AuditProblem[] = [];
  const actual = recordSha256(record);
  if (actual !== record.sha256) {
    out.push({
      key,
      problem: `altered: its content hashes to ${short(actual)}… but it records ${short(record.sha256)}…`,
    });
  } else if (raw !== `${canonicalJson(record)}\n`) {
    out.push({ key, problem: "altered: its bytes are not the form Haven writes (edited by hand?)" });
  }
  const expectedKey = layout.audit(new Date(record.at), record.id);
  if (expectedKey !== key) {
    out.push({
      key,
      problem: `moved: its time and id belong under ${expectedKey}, not here (renamed or copied over another record?)`,
    });
  }
  return out;
}

/**
 * Each record against the one stored before it. Unreadable records (already reported) are stepped
 * over: a record right after them is not also reported as following a gap.
 */
function checkLinks(
  entries: ReadonlyArray<ReadAuditEntry>,
  records: ReadonlyArray<ReadRecord>,
): AuditProblem[] {
  const out: AuditProblem[] = [];
  const bySha = new Map<string, ReadRecord>();
  for (const entry of records) bySha.set(entry.record.sha256, entry);

  let previous: ReadRecord | undefined;
  let unreadableSince = 0;
  for (const entry of entries) {
    if ("unreadable" in entry) {
      unreadableSince += 1;
      continue;
    }
    const skipped = unreadableSince;
    unreadableSince = 0;
    const before = previous;
    previous = entry;
    out.push(...checkLink(entry, before, skipped, bySha));
  }
  return out;
}

function checkLink(
  entry: ReadRecord,
  previous: ReadRecord | undefined,
  unreadableBefore: number,
  bySha: ReadonlyMap<string, ReadRecord>,
): AuditProblem[] {
  const { key, record } = entry;
  const problem = (text: string): AuditProblem[] => [{ key, problem: text }];
  if (unreadableBefore > 0 && record.seq === (previous?.record.seq ?? 0) + unreadableBefore + 1) {
    return []; // its predecessor is among the unreadable records, reported as such
  }
  if (previous === undefined) {
    if (record.seq > 1) {
      return problem(
        `removed: the chain starts at record #${record.seq}; the ${record.seq - 1} record(s) before it are missing`,
      );
    }
    if (record.prevSha256 !== null) {
      return problem(
        `altered: the first record chains to ${short(record.prevSha256)}…, which does not exist`,
      );
    }
    return [];
  }
  const prev = previous.record;
  if (record.prevSha256 === prev.sha256 && record.seq === prev.seq + 1) return [];

  if (record.prevSha256 === null) {
    return problem(`altered: it claims to start a chain (no previous record) but follows ${previous.key}`);
  }
  const chainedTo = bySha.get(record.prevSha256);
  if (chainedTo === previous) {
    return problem(`altered: its number #${record.seq} does not follow #${prev.seq} of ${previous.key}`);
  }
  if (chainedTo !== undefined) {
    return problem(
      `reordered: it chains to ${chainedTo.key} (#${chainedTo.record.seq}) but is stored after ${previous.key} (#${prev.seq})`,
    );
  }
  if (record.seq > prev.seq + 1) {
    const missing = record.seq - prev.seq - 1;
    const range = missing > 1 ? `#${prev.seq + 1}..#${record.seq - 1}` : `#${prev.seq + 1}`;
    return problem(
      `removed: ${missing} record(s) missing before it (${range}, after ${previous.key}); ` +
        `it chains to ${short(record.prevSha256)}…, which no longer exists`,
    );
  }
  if (record.seq === prev.seq + 1) {
    // The record before was rewritten with a recomputed sha256: name that one, it is the altered one.
    return [
      {
        key: previous.key,
        problem: `altered: it now hashes to ${short(prev.sha256)}…, but the next record (${key}) chained to ${short(record.prevSha256)}…`,
      },
    ];
  }
  return problem(
    `reordered: record #${record.seq} is stored after #${prev.seq} (${previous.key}) and chains to ${short(record.prevSha256)}…, which does not exist`,
  );
}

function checkForks(records: ReadonlyArray<ReadRecord>): AuditProblem[] {
  const children = new Map<string | null, ReadRecord[]>();
  for (const entry of records) {
    const list = children.get(entry.record.prevSha256) ?? [];
    list.push(entry);
    children.set(entry.record.prevSha256, list);
  }
  const out: AuditProblem[] = [];
  for (const [parent, list] of children) {
    const [first, ...others] = list;
    for (const entry of others) {
      out.push({
        key: entry.key,
        problem:
          `forked: it and ${first?.key} both ${parent === null ? "start a chain" : "chain to the same record"} ` +
          "(two writers appended at once without the Redis lock, or a record was inserted)",
      });
    }
  }
  return out;
}

function checkHead(records: ReadonlyArray<ReadRecord>, read: HeadRead): ChainCheck {
  const key = AUDIT_HEAD_KEY;
  const last = records[records.length - 1];
  if (read.state === "unreadable") return { problems: [{ key, problem: read.problem }], warnings: [] };
  if (read.state === "missing") {
    return last === undefined
      ? { problems: [], warnings: [] }
      : {
          problems: [
            {
              key,
              problem: `missing: without the head pointer, removal of the newest records cannot be detected (the chain ends at #${last.record.seq}, ${last.key})`,
            },
          ],
          warnings: [],
        };
  }
  const head = read.head;
  if (last === undefined) {
    return {
      problems: [{ key, problem: `removed: the head pointer names ${head.count} record(s), none is left` }],
      warnings: [],
    };
  }
  const end = last.record;
  if (head.count > end.seq) {
    return {
      problems: [
        {
          key,
          problem: `removed: the newest ${head.count - end.seq} record(s) are missing: the head pointer names #${head.count} (${head.key}), the chain ends at #${end.seq} (${last.key})`,
        },
      ],
      warnings: [],
    };
  }
  if (head.count === end.seq) {
    return head.sha256 === end.sha256
      ? { problems: [], warnings: [] }
      : {
          problems: [
            {
              key,
              problem: `altered: the newest record ${last.key} hashes to ${short(end.sha256)}…, the head pointer to ${short(head.sha256)}… (altered or replaced)`,
            },
          ],
          warnings: [],
        };
  }
  const pointed = records.find((entry) => entry.record.seq === head.count);
  if (pointed?.record.sha256 !== head.sha256) {
    return {
      problems: [
        {
          key,
          problem: `altered: the head pointer names #${head.count} with sha256 ${short(head.sha256)}…, which matches no record`,
        },
      ],
      warnings: [],
    };
  }
  return {
    problems: [],
    warnings: [
      {
        key,
        problem: `behind: the head pointer names #${head.count}, the chain ends at #${end.seq} (a writer stopped between a record and the pointer; the next append repairs it)`,
      },
    ],
  };
}
