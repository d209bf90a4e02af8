/** Integration tests talk to real Redis, PostgreSQL, MariaDB, s3rver and smtp-server; each file isolates itself. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  testTimeout: 120000,
  maxWorkers: 2,
  setupFiles: ["<rootDir>/test/setup-env.ts"],
  setupFilesAfterEnv: ["<rootDir>/test/teardown.ts"],
  // Worker teardown (V8 heap freeing) can exceed the default 500 ms on slow VMs.
  workerGracefulExitTimeout: 2000,
};
