#!/usr/bin/env node
// Runs every package's tests through turbo, then prints the one summary line CI reads:
//   tests: N passed, N failed
// Each package's vitest writes test-results.json (vitest's JSON reporter); a package whose
// results are missing after the run counts as one failure, so a crash can't read as green.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const packages = ['packages', 'apps'].flatMap((group) =>
  existsSync(join(root, group)) ? readdirSync(join(root, group)).map((name) => join(root, group, name)) : [],
)
const tested = packages.filter((dir) => {
  const manifest = join(dir, 'package.json')
  return existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).scripts?.test
})
for (const dir of tested) rmSync(join(dir, 'test-results.json'), { force: true })

const turbo = spawnSync('turbo', ['run', 'test', '--continue', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
})

let passed = 0
let failed = 0
for (const dir of tested) {
  const file = join(dir, 'test-results.json')
  if (!existsSync(file)) {
    console.error(`no test results from ${dir.slice(root.length)} (did its test run crash?)`)
    failed += 1
    continue
  }
  const results = JSON.parse(readFileSync(file, 'utf8'))
  passed += results.numPassedTests
  failed += results.numFailedTests
  // A file that fails to load has no tests to count: count the suite itself.
  failed += results.testResults.filter(
    (suite) => suite.status === 'failed' && suite.assertionResults.length === 0,
  ).length
}
console.log(`tests: ${passed} passed, ${failed} failed`)
process.exit(turbo.status === 0 && failed === 0 ? 0 : 1)
