/**
 * A dump on its way into a scratch schema, with every event it creates disabled. The scratch schema
 * lives on a real server (the target's own, unless `verify.into`), whose event scheduler runs the
 * events of every schema: an enabled copy would change the data being checked, and one whose body
 * names the source schema (`insert into shop.totals ...`) would run against the live data for as long
 * as the test lasts.
 *
 * mariadb-dump and mysqldump write each event as one statement whose first line holds its header:
 * `/*!50106 CREATE*\/ /*!50117 DEFINER=...*\/ /*!50106 EVENT `e` ON SCHEDULE ... ON COMPLETION
 * [NOT] PRESERVE ENABLE [COMMENT '...'] DO ...`. Only lines starting with that opening are held and
 * rewritten; every other line (row data of any length) passes through as it arrives.
 */
import { Readable } from "node:stream";

const EVENT_LINE = Buffer.from("/*!50106 CREATE*/");
const NEWLINE = 0x0a;
/** The first status clause of the header: the body comes after it, so it is never touched. */
const ENABLED = /^(.*? ON COMPLETION (?:NOT )?PRESERVE) ENABLE(?= )/s;

/**
 * The dump with its events created disabled. It reads `dump` only as it is read itself, so the
 * restore's progress still starts when loading does; errors of `dump` reach its reader.
 */
export function withEventsDisabled(dump: Readable): Readable {
  async function* filtered(): AsyncGenerator<Buffer> {
    const lines = new EventLines();
    for await (const chunk of dump) yield* lines.take(chunk as Buffer);
    yield* lines.end();
  }
  return Readable.from(filtered(), { objectMode: false });
}

class EventLines {
  /** The start of the current line, while it may be (or is) an event's first line. */
  #held: Buffer | null = Buffer.alloc(0);

  *take(chunk: Buffer): Generator<Buffer> {
    let at = 0;
    while (at < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, at);
      const end = newline === -1 ? chunk.length : newline + 1;
      const piece = chunk.subarray(at, end);
      at = end;
      if (this.#held === null) yield piece;
      else yield* this.#hold(piece);
      if (newline !== -1) yield* this.end();
    }
  }

  /** Ends the current line: an event's first line comes out rewritten. */
  *end(): Generator<Buffer> {
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    if (held === null || held.length === 0) return;
    if (held.length < EVENT_LINE.length) yield held;
    // latin1 maps each byte to one character and back, so the rest of the line is left as it was.
    else yield Buffer.from(held.toString("latin1").replace(ENABLED, "$1 DISABLE"), "latin1");
  }

  *#hold(piece: Buffer): Generator<Buffer> {
    const held = Buffer.concat([this.#held as Buffer, piece]);
    const compared = Math.min(held.length, EVENT_LINE.length);
    if (held.subarray(0, compared).equals(EVENT_LINE.subarray(0, compared))) this.#held = held;
    else {
      this.#held = null;
      yield held;
    }
  }
}
