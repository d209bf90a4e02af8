/** A UTC config of the given targets on one real filesystem destination, in a fresh directory. */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfigText } from "../../src/config/load";
import type { HavenConfig } from "../../src/config/types";
import { createFilesystemBackend } from "../../src/storage/filesystem";
import type { StorageBackend } from "../../src/storage/types";

export interface OneDestination {
  config: HavenConfig;
  primary: StorageBackend;
  remove(): Promise<void>;
}

/** `targets`: the lines under `targets:`, indented two spaces. */
export async function oneDestination(name: string, targets: string): Promise<OneDestination> {
  const dir = await mkdtemp(join(tmpdir(), `haven-report-${name}-`));
  await mkdir(join(dir, "primary")); // the destination's root: Haven never creates it
  const config = parseConfigText(
    `
timezone: UTC
destinations:
  primary: { type: filesystem, path: ${join(dir, "primary")} }
defaults:
  destinations: [primary]
targets:
${targets}
`,
    join(dir, "haven.yaml"),
    {},
  );
  const primary = createFilesystemBackend({ name: "primary", path: join(dir, "primary"), prefix: "" });
  return {
    config,
    primary,
    remove: async () => {
      await primary.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
