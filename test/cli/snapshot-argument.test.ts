/**
 * `--snapshot` names a folder in the destination: anything but a snapshot id is a usage error
 * (exit 2) before any key is built from it. Real CLI (dist/), a filesystem destination.
 */
import { runCli } from "../helpers/cli";
import { tempDir, writeNasConfigFile } from "../helpers/s3-config";

test.each([
  ["restore", "../x"],
  ["restore", "latest"],
  ["verify", "20261206T193112Z-d59c4cde/../../etc"],
])("haven %s --snapshot %s is a usage error naming what an id looks like", async (command, id) => {
  const work = await tempDir("haven-snapshot-arg");
  const config = await writeNasConfigFile(work, "targets:\n  app: { type: files, path: /srv/app }\n");
  const result = await runCli(["-c", config, command, "app", "--snapshot", id]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain(`--snapshot ${JSON.stringify(id)} is not a snapshot id`);
  expect(result.stderr).toContain("haven snapshots TARGET lists them");
});
