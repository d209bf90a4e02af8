import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLog, type AuditLogOptions } from "../../src/audit/log";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";

/** A clock tests move by hand. */
export class TestClock {
  #now: number;
  constructor(start = "2026-11-22T02:00:00.000Z") {
    this.#now = Date.parse(start);
  }
  readonly now = (): Date => new Date(this.#now);
  advance(ms: number): void {
    this.#now += ms;
  }
  set(iso: string): void {
    this.#now = Date.parse(iso);
  }
}

export interface FsAudit {
  dir: string;
  storage: StorageBackend;
  log: AuditLog;
  clock: TestClock;
  /** Absolute path of an object key. */
  path(key: string): string;
  cleanup(): Promise<void>;
}

export async function fsAudit(options: AuditLogOptions = {}): Promise<FsAudit> {
  const dir = await mkdtemp(join(tmpdir(), `haven-audit-${randomBytes(3).toString("hex")}-`));
  const storage = createFilesystemBackend({ name: "nas", path: dir });
  const clock = new TestClock();
  const log = new AuditLog(storage, { clock: clock.now, ...options });
  return {
    dir,
    storage,
    log,
    clock,
    path: (key) => join(dir, key),
    cleanup: async () => {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir`, as one buffer each, for scanning what was stored. */
export async function readAllFiles(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path, bytes: await readFile(path) });
  }
  return out;
}
