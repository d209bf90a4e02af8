/**
 * Progress for long operations: a bar (bytes, rate, ETA) on a TTY, plain lines every few seconds
 * otherwise, so logs of cron jobs and CI stay readable.
 */
import type { ProgressEvent } from "../engine/types";

export interface Progress {
  update(event: ProgressEvent): void;
  stop(): void;
}

const MiB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const started = Date.now();
  if (stream.isTTY) {
    // Loaded only for a terminal: cron jobs, CI and the benchmark do without its start-up cost.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SingleBar } = require("cli-progress") as typeof import("cli-progress");
    const bar = new SingleBar({
      stream,
      format: `${label} {bar} {percentage}% | {done} | {rate}/s | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
    });
    let startedBar = false;
    return {
      update(event) {
        const seconds = Math.max((Date.now() - started) / 1000, 0.001);
        const payload = { done: formatBytes(event.bytes), rate: formatBytes(event.bytes / seconds) };
        const total = event.total ?? Math.max(event.bytes, 1);
        if (!startedBar) {
          bar.start(total, event.bytes, payload);
          startedBar = true;
        }
        bar.setTotal(total);
        bar.update(event.bytes, payload);
      },
      stop() {
        if (startedBar) bar.stop();
      },
    };
  }
  let lastLine = started;
  return {
    update(event) {
      const now = Date.now();
      if (now - lastLine < 5000) return;
      lastLine = now;
      const seconds = Math.max((now - started) / 1000, 0.001);
      const rate = (event.bytes / MiB / seconds).toFixed(1);
      const of = event.total
        ? ` of ${formatBytes(event.total)} (${Math.floor((100 * event.bytes) / event.total)}%)`
        : "";
      stream.write(`${label}: ${formatBytes(event.bytes)}${of}, ${rate} MiB/s\n`);
    },
    stop() {},
  };
}
