// What each measured scenario id means, for the report: a label and the command it runs (DIR is the
// tree, CFG the YAML config the harness writes, with the destination named in the label).
export const SCENARIOS = {
  "tar-zstd": {
    label: "`tar | zstd -1 -T0` to a file (baseline)",
    command: "tar cf - -C DIR . | zstd -1 -T0 -q > out.tar.zst",
  },
  "tar-zstd-restore": {
    label: "`zstd -d | tar x` of that file (restore baseline)",
    command: "zstd -d -c -q out.tar.zst | tar xf - -C NEWDIR",
  },
  archiver: {
    label: "archiver 8 `TarArchive`, default settings, alone",
    command: "node bench/archiver-tar.mjs DIR > /dev/null",
  },
  "archiver-zstd": {
    label: "archiver 8 `| zstd -1 -T0` to a file",
    command: "node bench/archiver-tar.mjs DIR | zstd -1 -T0 -q > out.tar.zst",
  },
  "haven-tar": {
    label: "Haven's tar producer alone (walk, tar-stream, per-file sha256)",
    command: "node bench/haven-tar.mjs DIR > /dev/null",
  },
  "haven-fs": {
    label: "haven backup → filesystem destination",
    command: "node dist/cli/main.js -c CFG backup share --direct -o json",
  },
  "haven-fs-age": {
    label: "haven backup → filesystem destination, encrypted (age, one X25519 recipient)",
    command: "node dist/cli/main.js -c CFG backup share --direct -o json",
  },
  "haven-restore-fs-age": {
    label: "haven restore --to, from the filesystem destination, encrypted",
    command: "node dist/cli/main.js -c CFG restore share --to NEWDIR --direct",
  },
  "haven-s3rver-http": {
    label: "haven backup → s3rver over HTTP",
    command: "node dist/cli/main.js -c CFG --log-level debug backup share --direct -o json",
  },
  "haven-s3rver-https": {
    label: "haven backup → s3rver over HTTPS (the server restic uses)",
    command:
      "NODE_EXTRA_CA_CERTS=cert.pem node dist/cli/main.js -c CFG --log-level debug backup share --direct -o json",
  },
  "haven-null": {
    label: "haven backup → do-nothing S3 endpoint (HTTP)",
    command: "node dist/cli/main.js -c CFG backup share --direct -o json",
  },
  "haven-restore-fs": {
    label: "haven restore --to, from the filesystem destination",
    command: "node dist/cli/main.js -c CFG restore share --to NEWDIR --direct",
  },
  "haven-restore-s3rver-https": {
    label: "haven restore --to, from s3rver over HTTPS",
    command: "NODE_EXTRA_CA_CERTS=cert.pem node dist/cli/main.js -c CFG restore share --to NEWDIR --direct",
  },
  "restic-local": {
    label: "restic backup → local repository",
    command: "cd DIR && restic -r REPO --cache-dir C backup . --host bench -q",
  },
  "restic-s3rver-https": {
    label: "restic backup → s3rver over HTTPS",
    command:
      "cd DIR && restic -r s3:https://127.0.0.1:PORT/BUCKET --cacert cert.pem --cache-dir C backup . --host bench -q",
  },
  "restic-restore-local": {
    label: "restic restore, from the local repository",
    command: "restic -r REPO --cache-dir C restore latest --target NEWDIR -q",
  },
  "restic-restore-s3rver-https": {
    label: "restic restore, from s3rver over HTTPS",
    command: "restic -r s3:https://... --cacert cert.pem --cache-dir C restore latest --target NEWDIR -q",
  },
};

/** Scenario metadata for an id, "@4g" variants included. */
export function scenarioOf(id) {
  const [base, size] = id.split("@");
  const scenario = SCENARIOS[base] ?? { label: base, command: "" };
  return size ? { ...scenario, label: `${scenario.label} (${size.toUpperCase()} tree)` } : scenario;
}
