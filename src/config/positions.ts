/**
 * Where things are in the YAML source: from a config path (`targets.orders-db.rpo`) to the node that
 * holds it, and from a node or an offset to `LINE:COL`. Error messages use this to point at the
 * offending key or value; merge keys (`<<: *anchor`) and aliases are followed.
 */
import {
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node,
} from "yaml";

export type ConfigPath = ReadonlyArray<string | number>;

export interface SourcePosition {
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
}

/**
 * What an error points at:
 * - `value`: the value at the path; a block mapping or sequence is pointed at by its key instead, since
 *   its first line belongs to a child;
 * - `key`: the key at the path (unknown keys, bad names, duplicates).
 * When the path does not exist (a missing key), both point at the nearest existing parent mapping.
 */
export type PositionTarget = "value" | "key";

interface Step {
  key: Node | null;
  value: Node | null;
}

export class SourceMap {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  positionOfOffset(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  /** Position of the node at `path` (see PositionTarget); the start of the document when nothing fits. */
  positionOf(path: ConfigPath, target: PositionTarget = "value"): SourcePosition {
    const steps = this.walk(path);
    const last = steps[steps.length - 1];
    const found = steps.length === path.length + 1;
    let node: Node | null | undefined;
    if (!last) {
      node = null;
    } else if (!found || target === "key") {
      node = last.key ?? last.value;
    } else {
      // A block collection starts with its first child, and an empty value (`path:`) has no text:
      // both read better at their key.
      const blockCollection = isCollection(last.value) && !last.value.flow;
      const range = last.value?.range;
      const empty = range !== undefined && range !== null && range[0] === range[1];
      node = blockCollection || empty ? (last.key ?? last.value) : (last.value ?? last.key);
    }
    return this.positionOfOffset(node?.range?.[0] ?? this.doc.contents?.range?.[0] ?? 0);
  }

  /** The config path of the innermost key or value whose source range holds `offset`. */
  pathAtOffset(offset: number): Array<string | number> {
    const path: Array<string | number> = [];
    let node: unknown = this.doc.contents;
    for (;;) {
      if (isMap(node)) {
        const pair = node.items.find((item) => contains(item.key, offset) || contains(item.value, offset));
        if (!pair) return path;
        path.push(keyOf(pair.key) ?? "?");
        if (contains(pair.key, offset)) return path;
        node = pair.value;
      } else if (isSeq(node)) {
        const index = node.items.findIndex((item) => contains(item, offset));
        if (index === -1) return path;
        path.push(index);
        node = node.items[index];
      } else {
        return path;
      }
    }
  }

  /** The nodes along `path`, root first; shorter than path.length + 1 when the path stops existing. */
  private walk(path: ConfigPath): Step[] {
    const steps: Step[] = [{ key: null, value: this.resolve(this.doc.contents) }];
    for (const segment of path) {
      const parent = steps[steps.length - 1]?.value;
      const step = this.child(parent ?? null, segment);
      if (!step) break;
      steps.push(step);
    }
    return steps;
  }

  private child(parent: Node | null, segment: string | number): Step | null {
    if (isSeq(parent) && typeof segment === "number") {
      const item = parent.items[segment];
      return isNodeLike(item) ? { key: null, value: this.resolve(item) } : null;
    }
    if (!isMap(parent)) return null;
    for (const pair of parent.items) {
      if (keyOf(pair.key) === String(segment)) {
        return { key: isNodeLike(pair.key) ? pair.key : null, value: this.resolve(pair.value) };
      }
    }
    // Keys brought in by `<<: *anchor` (or `<<: [*a, *b]`) live in the anchored mapping.
    for (const pair of parent.items) {
      if (!isMergeKey(pair.key)) continue;
      const source = this.resolve(pair.value);
      const sources = isSeq(source) ? source.items.map((item) => this.resolve(item)) : [source];
      for (const merged of sources) {
        const step = this.child(merged, segment);
        if (step) return step;
      }
    }
    return null;
  }

  private resolve(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? node;
    return isNodeLike(node) ? node : null;
  }
}

function isNodeLike(value: unknown): value is Node {
  return isScalar(value) || isCollection(value) || isAlias(value);
}

/** A mapping key as the config sees it (YAML allows complex keys; the config never uses them). */
export function keyOf(key: unknown): string | null {
  if (!isScalar(key)) return null;
  return typeof key.value === "symbol" ? (key.value.description ?? null) : String(key.value);
}

/** yaml parses `<<` (with `merge: true`) into a Scalar holding a fresh Symbol("<<"). */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === "symbol" && key.value.description === "<<";
}

function contains(node: unknown, offset: number): boolean {
  if (!isNodeLike(node) || !node.range) return false;
  const [start, , end] = node.range;
  return offset >= start && offset < end;
}
