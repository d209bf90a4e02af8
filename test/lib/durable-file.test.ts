/**
 * Giving a restored file its name: never over a name taken without consent (a dangling link takes it
 * too), atomically where hard links exist, and still where the file system has none or cannot sync
 * a directory (vfat, SMB without unix extensions: their link() and directory fsync fail, injected
 * here since this machine has no such mount).
 */
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  fsyncDirectory,
  fsyncFile,
  linkNoReplace,
  moveIntoPlace,
  pathExists,
} from "../../src/lib/durable-file";

// The module's own link() and open() are these, so a test can make them fail as vfat or SMB do.
jest.mock("node:fs/promises", () => {
  const actual = jest.requireActual<typeof fsp>("node:fs/promises");
  return { ...actual, link: jest.fn(actual.link), open: jest.fn(actual.open) };
});
const { mkdtemp, readFile, readdir, rm, symlink, writeFile } = fsp;
const realFsp = jest.requireActual<typeof fsp>("node:fs/promises");

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "haven-durable-"));
});

afterEach(async () => {
  jest.mocked(fsp.link).mockImplementation(realFsp.link);
  jest.mocked(fsp.open).mockImplementation(realFsp.open);
  await rm(dir, { recursive: true, force: true });
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** Makes link() fail as it does on a file system without hard links. */
function withoutHardLinks(code: string): void {
  jest.mocked(fsp.link).mockRejectedValue(errno(code));
}

test("pathExists: a missing name is free; a file and a dangling symbolic link take it", async () => {
  expect(await pathExists(join(dir, "missing"))).toBe(false);
  await writeFile(join(dir, "file"), "x");
  expect(await pathExists(join(dir, "file"))).toBe(true);
  await symlink(join(dir, "nowhere"), join(dir, "dangling"));
  expect(await pathExists(join(dir, "dangling"))).toBe(true);
});

/** A second file moved without replace onto app.db ("new") fails with EEXIST and changes nothing. */
async function expectTakenNameKept(): Promise<void> {
  await writeFile(join(dir, "t2"), "newer");
  await expect(moveIntoPlace(join(dir, "t2"), join(dir, "app.db"), false)).rejects.toMatchObject({
    code: "EEXIST",
  });
  expect(await readFile(join(dir, "app.db"), "utf8")).toBe("new");
  expect((await readdir(dir)).sort()).toEqual(["app.db", "t2"]);
}

test("moveIntoPlace without replace: a free name gets the file; a taken one is kept and the temp left", async () => {
  await writeFile(join(dir, "t1"), "new");
  await moveIntoPlace(join(dir, "t1"), join(dir, "app.db"), false);
  expect(await readFile(join(dir, "app.db"), "utf8")).toBe("new");
  expect(await readdir(dir)).toEqual(["app.db"]);

  await expectTakenNameKept();
});

test("moveIntoPlace with replace swaps the file in whole", async () => {
  await writeFile(join(dir, "app.db"), "old");
  await writeFile(join(dir, "t"), "new");
  await moveIntoPlace(join(dir, "t"), join(dir, "app.db"), true);
  expect(await readFile(join(dir, "app.db"), "utf8")).toBe("new");
  expect(await readdir(dir)).toEqual(["app.db"]);
});

test.each(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK"])(
  "without hard links (%s): a free name is renamed to, a taken one still refused",
  async (code) => {
    withoutHardLinks(code);
    await writeFile(join(dir, "t1"), "new");
    expect(await linkNoReplace(join(dir, "t1"), join(dir, "app.db"))).toBe("renamed");
    expect(await readdir(dir)).toEqual(["app.db"]);

    await expectTakenNameKept();
  },
);

test("a link() failure that is not a missing feature is not papered over", async () => {
  withoutHardLinks("EIO");
  await writeFile(join(dir, "t"), "new");
  await expect(moveIntoPlace(join(dir, "t"), join(dir, "app.db"), false)).rejects.toMatchObject({
    code: "EIO",
  });
  expect(await readdir(dir)).toEqual(["t"]);
});

/** Makes fsync fail with `code` on every handle opened from now on. */
function syncFails(code: string): void {
  jest.mocked(fsp.open).mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realFsp.open(...args);
    handle.sync = () => Promise.reject(errno(code));
    return handle;
  });
}

test("a directory the file system cannot sync is not a failure; a file that cannot be synced is", async () => {
  await writeFile(join(dir, "t"), "new");
  syncFails("EINVAL");
  await expect(fsyncDirectory(dir)).resolves.toBeUndefined();
  await expect(moveIntoPlace(join(dir, "t"), join(dir, "app.db"), false)).resolves.toBeUndefined();
  expect(await readdir(dir)).toEqual(["app.db"]);
  await expect(fsyncFile(join(dir, "app.db"))).rejects.toMatchObject({ code: "EINVAL" });
});

test("a directory sync that fails for another reason (EIO) is reported", async () => {
  syncFails("EIO");
  await expect(fsyncDirectory(dir)).rejects.toMatchObject({ code: "EIO" });
});
