import { setTimeout as sleep } from "node:timers/promises";
import { mapLimit } from "../../src/lib/map-limit";

describe("mapLimit", () => {
  it("keeps input order and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const delays = [30, 5, 20, 1, 10, 15, 2, 8];
    const out = await mapLimit(delays, 3, async (ms) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(ms);
      running--;
      return ms * 2;
    });
    expect(out).toEqual(delays.map((ms) => ms * 2));
    expect(peak).toBe(3);
  });

  it("after the first failure takes no new item, and rejects only once the ones in flight settled", async () => {
    const started: number[] = [];
    const settled: number[] = [];
    const error = await mapLimit([0, 1, 2, 3, 4, 5], 2, async (item) => {
      started.push(item);
      await sleep(item === 0 ? 5 : 25);
      settled.push(item);
      if (item === 0) throw new Error("item 0 failed");
      return item;
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("item 0 failed");
    expect(started).toEqual([0, 1]); // item 1 was in flight when 0 failed; 2.. never started
    expect(settled.sort()).toEqual([0, 1]); // and 1 had finished before the call rejected
  });

  it("handles no items and a limit below one", async () => {
    expect(await mapLimit([], 4, () => Promise.resolve(1))).toEqual([]);
    expect(await mapLimit([1, 2], 0, (n) => Promise.resolve(n + 1))).toEqual([2, 3]);
  });
});
