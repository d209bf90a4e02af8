/** Integration tests talk to real Redis, PostgreSQL, MariaDB, s3rver and smtp-server; each file isolates itself. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  testTimeout: 120000,
  maxWorkers: 2,
  setupFiles: ["<rootDir>/test/setup-env.ts"],
};
