/**
 * Which `--to` counts as restoring over the target's own data (targets/in-place.ts): the restore
 * guard keys on it. Pure logic over real paths in a temporary folder.
 */
import { execFileSync } from "node:child_process";
import { link, mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import type { TargetConfig } from "../../src/config/types";
import { Secret } from "../../src/lib/secret";
import { restoresInPlace } from "../../src/targets/in-place";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-in-place-"));
  await mkdir(join(dir, "share", "sub"), { recursive: true });
  await symlink(join(dir, "share"), join(dir, "link-to-share"));
  await writeFile(join(dir, "app.db"), "");
});

/** Only the fields restoresInPlace reads; the config loader fills the rest in real use. */
const target = (fields: Record<string, unknown>) => ({ name: "t", ...fields }) as unknown as TargetConfig;

test("files: the share itself, any folder in it and a link to it are in place; a sibling is not", async () => {
  const share = target({ type: "files", path: join(dir, "share") });
  const at = (path: string) => restoresInPlace(share, { kind: "path", path });
  expect(await restoresInPlace(share, { kind: "original" })).toBe(true);
  expect(await at(join(dir, "share"))).toBe(true);
  expect(await at(join(dir, "share") + "/")).toBe(true);
  expect(await at(join(dir, "share", "sub"))).toBe(true);
  expect(await at(join(dir, "share", "not-yet", "deeper"))).toBe(true);
  expect(await at(join(dir, "link-to-share"))).toBe(true);
  expect(await at(join(dir, "link-to-share", "not-yet", "deeper"))).toBe(true);
  expect(await at(relative(process.cwd(), join(dir, "share")))).toBe(true);
  expect(await at(join(dir, "share-copy"))).toBe(false); // shares a prefix, not a folder
  expect(await at(dir)).toBe(false);
});

test("files: a bind mount of the share is the share (needs root for mount --bind; CI runs as root)", async () => {
  const share = target({ type: "files", path: join(dir, "share") });
  const alias = join(dir, "bound");
  await mkdir(alias);
  execFileSync("mount", ["--bind", join(dir, "share"), alias]);
  try {
    expect(await restoresInPlace(share, { kind: "path", path: alias })).toBe(true);
    expect(await restoresInPlace(share, { kind: "path", path: join(alias, "sub") })).toBe(true);
    expect(await restoresInPlace(share, { kind: "path", path: join(alias, "not-yet", "deeper") })).toBe(true);
  } finally {
    execFileSync("umount", [alias]);
  }
  expect(await restoresInPlace(share, { kind: "path", path: alias })).toBe(false);
});

test("files: a bind mount of a folder of the share, or of a folder holding it, reaches into the share", async () => {
  const share = target({ type: "files", path: join(dir, "share") });
  const at = (path: string) => restoresInPlace(share, { kind: "path", path });
  await mkdir(join(dir, "other"), { recursive: true });
  const mounts: Array<[string, string]> = [
    [join(dir, "share", "sub"), join(dir, "bound-sub")],
    [dir, join(dir, "..", `${basename(dir)}-bound-parent`)],
    [join(dir, "other"), join(dir, "bound-other")],
  ];
  for (const [, point] of mounts) await mkdir(point, { recursive: true });
  for (const [source, point] of mounts) execFileSync("mount", ["--bind", source, point]);
  try {
    expect(await at(join(dir, "bound-sub"))).toBe(true);
    expect(await at(join(dir, "bound-sub", "not-yet"))).toBe(true);
    const parent = mounts[1]![1];
    expect(await at(join(parent, "share", "sub"))).toBe(true);
    expect(await at(join(parent, "share-copy"))).toBe(false);
    expect(await at(join(parent, "other"))).toBe(false);
    expect(await at(join(dir, "bound-other"))).toBe(false);
  } finally {
    for (const [, point] of mounts.reverse()) execFileSync("umount", [point]);
  }
});

test("sqlite: the database file itself, or a hard link to it, is in place; another file is not", async () => {
  const db = target({ type: "sqlite", path: join(dir, "app.db") });
  await link(join(dir, "app.db"), join(dir, "app-alias.db"));
  expect(await restoresInPlace(db, { kind: "path", path: join(dir, ".", "app.db") })).toBe(true);
  expect(await restoresInPlace(db, { kind: "path", path: join(dir, "app-alias.db") })).toBe(true);
  expect(await restoresInPlace(db, { kind: "path", path: join(dir, "app-restored.db") })).toBe(false);
});

test("postgres and mysql: --to the target's own database name is in place, from a field or the url", async () => {
  for (const type of ["postgres", "mysql"]) {
    const byField = target({ type, database: "orders" });
    expect(await restoresInPlace(byField, { kind: "database", name: "orders" })).toBe(true);
    expect(await restoresInPlace(byField, { kind: "database", name: "orders_restored" })).toBe(false);
    const byUrl = target({ type, url: new Secret(`${type}://app:pw@db.example/orders`) });
    expect(await restoresInPlace(byUrl, { kind: "database", name: "orders" })).toBe(true);
    // Another server named by url is not the target's own database.
    const elsewhere = { kind: "database", name: "orders", url: `${type}://other.example/orders` } as const;
    expect(await restoresInPlace(byField, elsewhere)).toBe(false);
  }
});

test("redis: --to writes an RDB file, never over the live server", async () => {
  const cache = target({ type: "redis", host: "127.0.0.1" });
  expect(await restoresInPlace(cache, { kind: "path", path: join(dir, "dump.rdb") })).toBe(false);
  expect(await restoresInPlace(cache, { kind: "original" })).toBe(true);
});
