/**
 * Generated demo content: build and test logs, unified diffs and plans that look like what Hive
 * cells produce, deterministic from a seed. Nothing is read from disk.
 */

/** A small deterministic PRNG (mulberry32): the same seed gives the same demo. */
export function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const MODULES = ['auth', 'checkout', 'dashboard', 'billing', 'search', 'profile', 'notifications', 'api']
const TESTS = [
  'renders the form',
  'sends a magic link',
  'rejects an expired token',
  'keeps the session after reload',
  'retries on network failure',
  'formats prices in the locale',
  'paginates results',
  'debounces input',
]

/** `npm test` output of a vitest run: hundreds of lines, one failure when `failing`. */
export function testLog(seed: number, options: { files?: number; failing?: boolean } = {}): string {
  const next = random(seed)
  const lines = ['> acme-webapp@2.4.0 test', '> vitest run', '', ' RUN  v4.1.12 /workspace/acme-webapp', '']
  const files = options.files ?? 40
  let passed = 0
  for (let f = 0; f < files; f++) {
    const module = MODULES[f % MODULES.length] as string
    const count = 3 + Math.floor(next() * 12)
    lines.push(` ✓ src/${module}/${module}-${f}.test.ts (${count} tests) ${Math.floor(next() * 900)}ms`)
    for (let t = 0; t < count; t++) {
      lines.push(`   ✓ ${module} › ${TESTS[(f + t) % TESTS.length]} ${Math.floor(next() * 40)}ms`)
      passed += 1
    }
  }
  if (options.failing) {
    lines.push(
      ' ❯ src/checkout/cart.test.ts (12 tests | 1 failed) 2301ms',
      '   × checkout › applies the discount once 45ms',
      '     → expected 90 to be 81 // Object.is equality',
      '',
      ' FAIL  src/checkout/cart.test.ts > checkout > applies the discount once',
      'AssertionError: expected 90 to be 81 // Object.is equality',
      ' ❯ src/checkout/cart.test.ts:118:31',
    )
  }
  lines.push(
    '',
    ` Test Files  ${options.failing ? `1 failed | ${files} passed` : `${files} passed`} (${files + (options.failing ? 1 : 0)})`,
    `      Tests  ${options.failing ? `1 failed | ${passed} passed` : `${passed} passed`}`,
    `   Duration  ${(5 + next() * 20).toFixed(2)}s`,
  )
  return `${lines.join('\n')}\n`
}

/** Output of a build: bundler lines with sizes and timings. */
export function buildLog(seed: number, lines = 600): string {
  const next = random(seed)
  const out = ['> acme-webapp@2.4.0 build', '> vite build', 'vite v7.1.0 building for production...']
  for (let i = 0; i < lines; i++) {
    const module = MODULES[Math.floor(next() * MODULES.length)] as string
    out.push(
      `transforming (${i + 1}) src/${module}/components/${module}-${Math.floor(next() * 60)}.tsx ${(next() * 30).toFixed(1)} kB │ gzip: ${(next() * 9).toFixed(2)} kB`,
    )
  }
  out.push(`✓ ${lines} modules transformed.`, `✓ built in ${(3 + next() * 8).toFixed(2)}s`)
  return `${out.join('\n')}\n`
}

/** A unified diff as `git show` prints it, touching `files` files. */
export function unifiedDiff(seed: number, subject: string, files = 6): string {
  const next = random(seed)
  const out = [
    `commit ${Array.from({ length: 40 }, () => Math.floor(next() * 16).toString(16)).join('')}`,
    'Author: Hive Agent <agent@hive.local>',
    `Date:   Thu Nov 26 0${Math.floor(next() * 9)}:12:44 2026 +0000`,
    '',
    `    ${subject}`,
    '',
  ]
  for (let f = 0; f < files; f++) {
    const module = MODULES[(f + seed) % MODULES.length] as string
    const path = `src/${module}/${module}-service.ts`
    out.push(
      `diff --git a/${path} b/${path}`,
      `index ${Math.floor(next() * 0xfffffff).toString(16)}..${Math.floor(next() * 0xfffffff).toString(16)} 100644`,
      `--- a/${path}`,
      `+++ b/${path}`,
    )
    const start = 10 + Math.floor(next() * 200)
    out.push(`@@ -${start},12 +${start},16 @@ export class ${capital(module)}Service {`)
    for (let l = 0; l < 12; l++) {
      const roll = next()
      if (roll < 0.2)
        out.push(`-    const result = await this.#client.${module}Request(input, { retries: ${l % 4} })`)
      else if (roll < 0.45) {
        out.push(`+    const token = await this.#tokens.issue({ user: input.userId, ttlMinutes: ${15 + l} })`)
        out.push(`+    if (!token) throw new ${capital(module)}Error('could not issue a magic link token')`)
      } else out.push(`     this.#log.debug('${module}: step ${l}', { requestId: input.requestId })`)
    }
  }
  return `${out.join('\n')}\n`
}

/** A plan in Markdown, version `version`. */
export function planText(feature: string, version: number): string {
  const steps = [
    'Add a `magic_link_tokens` table with an expiry and a single-use flag',
    'Send the link through the existing notifications service',
    'Verify the token, create the session, and redirect to the page the user came from',
    'Rate-limit requests per e-mail address and per IP',
    'Keep password login behind a feature flag during the rollout',
    'Add end-to-end tests for expired, reused and forged tokens',
  ]
  return [
    `# Plan: ${feature} (v${version})`,
    '',
    '## Goal',
    `Users sign in with a link sent by e-mail instead of a password. ${version > 1 ? 'Revised after review: rate limits and the rollout flag were added.' : ''}`,
    '',
    '## Steps',
    ...steps.slice(0, version > 1 ? steps.length : 4).map((step, i) => `${i + 1}. ${step}`),
    '',
    '## Risks',
    '- Mail delivery delays: show a "resend" button after 30 seconds',
    '- Token leakage through referrer headers: tokens are single-use and expire after 15 minutes',
  ].join('\n')
}

function capital(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1)
}
