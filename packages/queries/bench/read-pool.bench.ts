// The event loop under heavy reads, with a read pool and on the single connection, in one run:
//   - a storm of concurrent heavy searches and transcript exports (streamed, serialised as JSON
//     lines) while perf_hooks.monitorEventLoopDelay samples the main thread's event loop;
//   - throughput of concurrent searches alone.
// Run: pnpm --filter @hive/queries bench   (writes BENCHMARKS.md here and the README's summary)
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Database } from '@hive/schema'
import { ReadPool } from '@hive/sqlite'
import { machine, replaceSection } from '@hive/testing'
import { Kysely } from 'kysely'
import { createQueryServices, type QueryServices } from '../src/index.js'
import { benchData } from './data.js'

const here = new URL('..', import.meta.url).pathname
const MESSAGES = Number(process.env.BENCH_READ_POOL_MESSAGES ?? 200_000)
const CLIENTS = 8
const SEARCHES = 48
const EXPORTS = 4
const EXPORT_MESSAGES = 4000
const ROUNDS = 5

const data = await benchData('read-pool')
console.log(`growing to ${MESSAGES} messages…`)
data.grow(MESSAGES)
data.sqlite.pragma('optimize')
data.database.checkpoint('truncate')
const { database, content, TERMS, big } = data
const single = createQueryServices({ db: database.db, content, writer: database })
const pool = new ReadPool({
  path: data.path,
  ...(process.env.BENCH_POOL_SIZE ? { size: Number(process.env.BENCH_POOL_SIZE) } : {}),
})
const pooled = createQueryServices({
  db: database.db,
  content,
  writer: database,
  readDb: new Kysely<Database>({ dialect: pool.dialect }),
})

// Pairs of middling-frequency words: each search ranks thousands of hits.
const queries = Array.from({ length: 8 }, (_, k) => `${TERMS[30 + k]} ${TERMS[50 + k]}`)
const sampleMs: number[] = []
for (const text of queries) {
  const started = performance.now()
  const { hits } = await single.search.search({ text, limit: 20 })
  sampleMs.push(performance.now() - started)
  // A benchmark that measures nothing is worse than none.
  if (hits.length !== 20) throw new Error(`"${text}" found ${hits.length} hits: not the data expected`)
}
const searchMs = median(sampleMs)

/** An export: a session streamed in chunks and written out as JSON lines (here, measured). */
async function exportSession(services: QueryServices): Promise<number> {
  let bytes = 0
  let messages = 0
  for await (const chunk of services.transcripts.stream(big.sessionId)) {
    for (const message of chunk) bytes += JSON.stringify(message).length + 1
    messages += chunk.length
    if (messages >= EXPORT_MESSAGES) break
  }
  return bytes
}

/** Runs `tasks` on `CLIENTS` concurrent clients. */
async function concurrently(tasks: Array<() => Promise<unknown>>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < tasks.length) await (tasks[next++] as () => Promise<unknown>)()
    }),
  )
}

interface Storm {
  p50: number
  p99: number
  max: number
  seconds: number
}

/** The storm: heavy searches and exports at once, with the event loop's delay sampled (ms). */
async function storm(services: QueryServices): Promise<Storm> {
  const tasks: Array<() => Promise<unknown>> = []
  for (let i = 0; i < SEARCHES; i++) {
    tasks.push(() => services.search.search({ text: queries[i % queries.length] as string, limit: 20 }))
    if (i % (SEARCHES / EXPORTS) === 0) tasks.push(() => exportSession(services))
  }
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  // The histogram records a delay from its second tick on (and `reset()` starts that over):
  // let it tick before the storm, or a storm that never lets the loop turn records nothing.
  await new Promise((resolve) => setTimeout(resolve, 3))
  const started = performance.now()
  await concurrently(tasks)
  const seconds = (performance.now() - started) / 1000
  // On the single connection the loop may not have turned once during the storm: let the
  // histogram's timer fire, so that it records the freeze it was waiting behind.
  await new Promise((resolve) => setTimeout(resolve, 5))
  histogram.disable()
  const ms = (ns: number) => ns / 1e6
  return {
    p50: ms(histogram.percentile(50)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    seconds,
  }
}

/** Searches alone, `CLIENTS` at a time: searches per second. */
async function searchThroughput(services: QueryServices): Promise<number> {
  const count = 64
  const started = performance.now()
  await concurrently(
    Array.from(
      { length: count },
      (_, i) => () => services.search.search({ text: queries[i % queries.length] as string, limit: 20 }),
    ),
  )
  return count / ((performance.now() - started) / 1000)
}

async function idle(): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  histogram.disable()
  return histogram.percentile(99) / 1e6
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
}

const idleP99 = await idle()
// Warm both up (caches, statements, workers), then interleave the rounds.
await storm(single)
await storm(pooled)
const storms: Record<'single' | 'pool', Storm[]> = { single: [], pool: [] }
const rates: Record<'single' | 'pool', number[]> = { single: [], pool: [] }
for (let round = 0; round < ROUNDS; round++) {
  const order: Array<'single' | 'pool'> = round % 2 ? ['pool', 'single'] : ['single', 'pool']
  for (const name of order) {
    const services = name === 'pool' ? pooled : single
    const result = await storm(services)
    storms[name].push(result)
    rates[name].push(await searchThroughput(services))
    console.log(
      `round ${round} ${name}: event-loop delay p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms, storm ${result.seconds.toFixed(2)} s`,
    )
  }
}
const poolSize = pool.stats().size
await pool.close()
database.close()
data.remove()

// ---- report ----
const stat = (name: 'single' | 'pool', key: keyof Storm) => median(storms[name].map((s) => s[key]))
const worstPoolP99 = Math.max(...storms.pool.map((s) => s.p99))
const rate = (name: 'single' | 'pool') => median(rates[name])
const summary = [
  `Read pool (${poolSize} workers, the default on ${availableParallelism()} cores) vs the single connection, ${machine()}, ${MESSAGES.toLocaleString('en-US')} messages (a search takes ~${searchMs.toFixed(0)} ms alone), ${CLIENTS} concurrent clients, medians of ${ROUNDS} interleaved rounds:`,
  '',
  `- event-loop delay p99 while ${SEARCHES} heavy searches and ${EXPORTS} exports run: **${stat('pool', 'p99').toFixed(1)} ms** with the pool (worst round ${worstPoolP99.toFixed(1)} ms; target ≤ 20 ms) vs **${stat('single', 'p99').toFixed(1)} ms** on the single connection (idle: ${idleP99.toFixed(1)} ms)`,
  `- concurrent searches: **${rate('pool').toFixed(0)}/s** with the pool vs ${rate('single').toFixed(0)}/s on the single connection (**${(rate('pool') / rate('single')).toFixed(2)}×**)`,
].join('\n')
const table = [
  '| | event-loop delay p50 ms | p99 ms | max ms | storm s | searches/s |',
  '|---|---:|---:|---:|---:|---:|',
  ...(['pool', 'single'] as const).map(
    (name) =>
      `| ${name === 'pool' ? `read pool (${poolSize} workers)` : 'single connection'} | ${stat(name, 'p50').toFixed(1)} | ${stat(name, 'p99').toFixed(1)} | ${stat(name, 'max').toFixed(1)} | ${stat(name, 'seconds').toFixed(2)} | ${rate(name).toFixed(0)} |`,
  ),
].join('\n')
replaceSection(
  join(here, 'BENCHMARKS.md'),
  'read-pool',
  `${summary}

${table}

The storm: ${SEARCHES} two-word searches (top 20 of thousands of hits, bm25-ranked, with snippets)
and ${EXPORTS} exports (${EXPORT_MESSAGES.toLocaleString('en-US')} messages with their parts streamed in the default chunks of 100 and
serialised as JSON lines) shared out among ${CLIENTS} clients. The delay is sampled by
\`perf_hooks.monitorEventLoopDelay\` (1 ms resolution) over the whole storm; searches/s is 64
searches alone on the same ${CLIENTS} clients.`,
)
replaceSection(join(here, '..', '..', 'README.md'), 'read-pool', summary)
console.log(summary)
