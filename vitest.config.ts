import { configDefaults, defineConfig } from "vitest/config"

/**
 * Two projects. `unit`: pure functions and schemas (test/internal, test/schema), no sockets,
 * no timers of a running mesh, a few seconds in all. `integration`: everything else, which
 * starts servers, memory networks of nodes, werift peers, child processes or a browser.
 * `npm test` runs both; `npm run test:unit` / `test:integration` one of them.
 */
const unit = ["test/internal/**/*.test.ts", "test/schema/**/*.test.ts", "test/crypto/**/*.test.ts", "test/storage/unit/**/*.test.ts"]

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      { extends: true, test: { name: "unit", include: unit } },
      {
        extends: true,
        test: { name: "integration", include: ["test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...unit] }
      }
    ],
    // `npm run test:coverage`: V8 coverage of src/ (code run in the child processes some tests
    // spawn is not counted)
    coverage: {
      provider: "v8",
      reportsDirectory: "coverage",
      reportOnFailure: true,
      include: ["src/**/*.ts"],
      reporter: ["text", "text-summary", "html", "json-summary"]
    }
  }
})
