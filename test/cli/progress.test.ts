import { Writable } from "node:stream";
import { createProgress } from "../../src/cli/progress";

/** A stream that records what is written and claims to be a terminal (or not). */
function captured(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY, columns: 120 });
  return { stream, text: () => chunks.join("") };
}

describe("createProgress", () => {
  it("draws a bar with bytes, rate and percentage on a terminal", () => {
    const out = captured(true);
    const progress = createProgress("backup db", out.stream);
    progress.update({ phase: "backup", bytes: 5 * 1024 * 1024, total: 10 * 1024 * 1024 });
    progress.stop();
    expect(out.text()).toContain("backup db");
    expect(out.text()).toContain("50%");
    expect(out.text()).toContain("5.00 MiB");
  });

  it("writes a plain line at most every five seconds when not on a terminal", () => {
    jest.useFakeTimers({ now: new Date("2026-12-01T00:00:00Z") });
    try {
      const out = captured(false);
      const progress = createProgress("backup db", out.stream);
      progress.update({ phase: "backup", bytes: 1024, total: 2048 });
      expect(out.text()).toBe("");
      jest.setSystemTime(new Date("2026-12-01T00:00:06Z"));
      progress.update({ phase: "backup", bytes: 1024 * 1024, total: 2 * 1024 * 1024 });
      progress.stop();
      expect(out.text()).toBe("backup db: 1.00 MiB of 2.00 MiB (50%), 0.2 MiB/s\n");
    } finally {
      jest.useRealTimers();
    }
  });
});
