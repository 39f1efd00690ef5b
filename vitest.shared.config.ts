import { defineConfig } from 'vitest/config'

/**
 * The test settings every package shares. The CI machines are shared 2-core VMs on which turbo runs
 * all packages' tests at once, so a test's wall time can be several times what it is on an idle
 * machine: the timeout is generous, and no test asserts on elapsed time (benchmarks measure speed).
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
  },
})
