// The cache in one run: a cached hit vs the uncached service read vs a raw better-sqlite3 point
// select of the same row; and the hit rate (and time per step) on a realistic access trace.
// Run: pnpm --filter @hive/cache bench   (writes BENCHMARKS.md here and the README's summary)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { hiveMigrations, Migrator } from '@hive/migrations'
import { createQueryServices } from '@hive/queries'
import { type Database, ids } from '@hive/schema'
import { openDatabase } from '@hive/sqlite'
import { compare, machine, replaceSection } from '@hive/testing'
import { createCache } from '../src/index.js'

const here = new URL('..', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'hive-cache-bench-'))
const database = openDatabase<Database>(join(dir, 'hive.db'))
const migrated = await new Migrator({ dialect: database.dialect, source: hiveMigrations }).up()
if (!migrated.ok) throw migrated.error
const services = createQueryServices({
  db: database.db,
  content: new BlobStore({ root: join(dir, 'blobs') }),
  writer: database,
})
const cache = createCache(services, { database })
const cached = cache.services

// mulberry32: a small, well-spread deterministic generator.
let seed = 1
const random = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n)
}

// ---- data: 2000 cells over 4 workspaces, a session each with 60 messages ----
const CELLS = 2000
const workspaces: string[] = []
for (let i = 0; i < 4; i++)
  workspaces.push((await services.workspaces.create({ name: `repo ${i}`, rootPath: `/src/repo-${i}` })).id)
const cells: Array<{ id: string; workspace: string; session: string }> = []
for (let i = 0; i < CELLS; i++) {
  const workspace = workspaces[i % workspaces.length] as string
  const cell = await services.cells.create({
    workspaceId: workspace,
    name: `Cell ${i}: fix the flaky login test`,
    description: 'Investigate why the login test fails one run in ten on CI, and fix it.',
    type: i % 3 ? 'implementation' : 'planning',
    metadata: { issue: 1000 + i, priority: i % 5 },
  })
  const session = await services.sessions.create({ cellId: cell.id })
  cells.push({ id: cell.id, workspace, session: session.id })
}
const append = (ref: { id: string; session: string }, n: number, q = services) => {
  const message = ids.message()
  return q.transcripts.append(
    { cellId: ref.id, sessionId: ref.session },
    {
      info: { id: message, role: n % 3 ? 'assistant' : 'user', time: { created: Date.now() } },
      parts: [
        { id: ids.part(), messageID: message, type: 'text', text: 'Looking at the test log now. '.repeat(8) },
        {
          id: ids.part(),
          messageID: message,
          type: 'tool',
          tool: 'bash',
          callID: `c${n}`,
          state: {
            status: 'completed',
            input: { command: 'pnpm test' },
            output: 'ok 1 login\n'.repeat(60),
            title: 'tests',
            metadata: {},
            time: { start: 1, end: 2 },
          },
        },
      ],
    },
  )
}
for (const cell of cells) for (let m = 0; m < 60; m++) await append(cell, m)
database.sqlite.pragma('optimize')

// ---- 1. a point read: hit vs service vs raw ----
const raw = database.sqlite.prepare('SELECT * FROM cells WHERE id = ?')
const hot = cells.slice(0, 1000).map((c) => c.id)
for (const id of hot) await cached.cells.get(id) // all hits from here on
const point = await compare(
  {
    'cached hit (cells.get)': async (ops) => {
      for (let i = 0; i < ops; i++) await cached.cells.get(hot[i % hot.length] as string)
    },
    'service, uncached (cells.get)': async (ops) => {
      for (let i = 0; i < ops; i++) await services.cells.get(hot[i % hot.length] as string)
    },
    'raw better-sqlite3 point select': (ops) => {
      for (let i = 0; i < ops; i++) raw.get(hot[i % hot.length])
    },
  },
  { ops: 100_000, rounds: 7 },
)
const [hit, uncached, rawSelect] = point as [(typeof point)[0], (typeof point)[0], (typeof point)[0]]
if (cache.stats().cells.misses !== hot.length) throw new Error('the point reads were not all hits')

// ---- 2. a realistic trace ----
// Users browse: a workspace's active cells (first page) → open a cell (Zipf-like: a few cells
// get most visits) → its transcript tail → back to the list. Meanwhile agents write: messages
// appended to running cells' sessions, and now and then a cell changes status.
const STEPS = 20_000
function zipfCell() {
  const rank = Math.floor(Math.exp((random(1_000_000) / 1_000_000) * Math.log(CELLS)))
  return cells[Math.min(CELLS - 1, rank - 1)] as (typeof cells)[number]
}
async function trace(q: typeof services, steps: number): Promise<{ seconds: number }> {
  seed = 42
  const started = performance.now()
  for (let step = 0; step < steps; step++) {
    const cell = zipfCell()
    await q.cells.list({ workspaceId: cell.workspace, limit: 50 })
    await q.cells.get(cell.id)
    await q.transcripts.tail(cell.session, 50)
    await q.cells.list({ workspaceId: cell.workspace, limit: 50 })
    // Agents at work: every step a message lands in one of 20 running cells; every 50 steps a
    // cell moves on in its lifecycle (which touches the cell lists).
    await append(cells[random(20)] as (typeof cells)[number], step, q)
    if (step % 50 === 0) await q.cells.update(zipfCell().id, { description: `updated ${step}` })
  }
  return { seconds: (performance.now() - started) / 1000 }
}
const before = cache.stats()
const withCache = await trace(cached, STEPS)
const after = cache.stats()
const withoutCache = await trace(services, STEPS)
const delta = (name: 'cells' | 'cellLists' | 'transcriptTails') => {
  const hits = after[name].hits - before[name].hits
  const misses = after[name].misses - before[name].misses
  return { hits, misses, rate: hits / (hits + misses) }
}
const rates = {
  cells: delta('cells'),
  cellLists: delta('cellLists'),
  transcriptTails: delta('transcriptTails'),
}
const allHits = rates.cells.hits + rates.cellLists.hits + rates.transcriptTails.hits
const allReads = allHits + rates.cells.misses + rates.cellLists.misses + rates.transcriptTails.misses
const finalStats = cache.stats()
cache.close()
database.close()
rmSync(dir, { recursive: true, force: true })

// ---- report ----
const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const summary = [
  `Cache (${machine()}), 2000 cells, medians of 7 interleaved rounds:`,
  '',
  `- a cached hit (\`cells.get\`) takes **${hit.microsPerOp.toFixed(2)} µs**: **${(rawSelect.microsPerOp / hit.microsPerOp).toFixed(1)}×** faster than a raw better-sqlite3 point select (${rawSelect.microsPerOp.toFixed(2)} µs; target ≥ 5×) and ${(uncached.microsPerOp / hit.microsPerOp).toFixed(1)}× faster than the uncached service (${uncached.microsPerOp.toFixed(2)} µs), checking for other processes' commits on every hit`,
  `- on a realistic trace (list → open cell → transcript tail → back, while agents append a message every step), **${pct(allHits / allReads)}** of reads are hits (cells ${pct(rates.cells.rate)}, lists ${pct(rates.cellLists.rate)}, tails ${pct(rates.transcriptTails.rate)}); the trace runs in ${withCache.seconds.toFixed(2)} s cached vs ${withoutCache.seconds.toFixed(2)} s uncached`,
].join('\n')
const table = [
  '| read | µs | vs raw select |',
  '|---|---:|---:|',
  ...point.map(
    (m) =>
      `| ${m.name} | ${m.microsPerOp.toFixed(2)} | ${(rawSelect.microsPerOp / m.microsPerOp).toFixed(2)}× |`,
  ),
].join('\n')
writeFileSync(
  join(here, 'BENCHMARKS.md'),
  `# @hive/cache benchmarks

Written by \`pnpm --filter @hive/cache bench\` (bench/cache.bench.ts), on data it generates: 2000
cells in 4 workspaces, a session each with 60 messages (a text part and a tool call). Compare the
ratios, measured in one run: the machine is shared.

${summary}

## Point read

${table}

1000 cells read round-robin, 100,000 reads a round; the cache holds them all. A hit includes the
check for other processes' commits (one 48-byte read of the WAL index).

## Trace

${STEPS.toLocaleString('en-US')} steps; each: the first page of a workspace's cells, one cell (a few cells get most visits,
Zipf-like), its last 50 messages, the list again; an agent appends a message to one of 20
running cells; every 50 steps a cell's description changes (which empties the list pages).

| cache | hits | misses | hit rate |
|---|---:|---:|---:|
${(['cells', 'cellLists', 'transcriptTails'] as const).map((n) => `| ${n} | ${rates[n].hits} | ${rates[n].misses} | ${pct(rates[n].rate)} |`).join('\n')}

Held at the end: ${finalStats.cells.entries} cells (${(finalStats.cells.bytes / 1024).toFixed(0)} KiB), ${finalStats.cellLists.entries} list pages (${(finalStats.cellLists.bytes / 1024).toFixed(0)} KiB), ${finalStats.transcriptTails.entries} tails (${(finalStats.transcriptTails.bytes / 2 ** 20).toFixed(1)} MiB); ${finalStats.cells.evictions + finalStats.cellLists.evictions + finalStats.transcriptTails.evictions} evictions.
`,
)
replaceSection(join(here, '..', '..', 'README.md'), 'cache', summary)
console.log(summary)
