/** A small but awkward sample share: unicode and spaces, a symlink, an empty dir and file, a few MiB. */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function writeSampleShare(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const file = async (rel: string, content: Buffer | string, mode = 0o644) => {
    await mkdir(join(root, rel, ".."), { recursive: true });
    await writeFile(join(root, rel), content, { mode });
    await chmod(join(root, rel), mode);
    files++;
    bytes += Buffer.byteLength(content);
  };
  for (let i = 0; i < 200; i++) {
    await file(
      `documents/report ${String(i).padStart(3, "0")}.txt`,
      `quarterly figures ${i}\n`.repeat(50 + i),
    );
  }
  await file("ünïcødé/日本語 ファイル.txt", "こんにちは\n");
  await file("media/photo.raw", randomBytes(4 * 1024 * 1024));
  await file("secrets/keep-private.txt", "only the owner reads this\n", 0o600);
  await file("bin/tool.sh", "#!/bin/sh\necho hello\n", 0o755);
  await file("empty.txt", "");
  await mkdir(join(root, "empty-dir"), { recursive: true });
  await symlink("../documents/report 001.txt", join(root, "bin/latest-report"));
  return { files, bytes };
}
