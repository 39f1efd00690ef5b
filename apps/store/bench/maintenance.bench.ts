// Write latency of a steady foreground writer (the Hive server appending transcript messages),
// without and with the maintenance runner working flat out beside it on the same store, in one
// run: retention deleting old sessions and artifacts, gc, incremental vacuum, sampled integrity
// checks, FTS merges and checkpoints, all due every second.
// Run: pnpm --filter @hive/store bench   (writes BENCHMARKS.md here and the README's summary)
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ids } from '@hive/schema'
import { ReadPool } from '@hive/sqlite'
import { machine, replaceSection } from '@hive/testing'
import {
  type HiveStore,
  MaintenanceRunner,
  openHiveStore,
  writeMaintenanceSettings,
  writeRetentionPolicy,
} from '../src/index.js'

const here = new URL('..', import.meta.url).pathname
const DAY = 24 * 60 * 60 * 1000
const PHASE_MS = Number(process.env.PHASE_MS ?? 8000)
const INTERVAL_MS = 5

const dir = mkdtempSync(join(tmpdir(), 'hive-maintenance-bench-'))
// The data is made 90 days ago (and then yesterday); after that the store's clock is the real one.
const clock: { now: number | null } = { now: Date.now() - 90 * DAY }
const store = await openHiveStore({
  dataDir: dir,
  create: true,
  migrate: 'auto',
  cache: false,
  now: () => clock.now ?? Date.now(),
})

// ---- data: 40 cells, 4 sessions of 150 messages each, 1200 logs; half of it 90 days old ----
const line = (i: number) =>
  `${i} compiling module-${i % 97} ok in ${i % 13} ms; cache ${i % 7 ? 'hit' : 'miss'}`
const log = (seed: number) => Array.from({ length: 400 }, (_, i) => `${seed}:${line(i)}`).join('\n')
const ws = await store.services.workspaces.create({ name: 'bench', rootPath: '/bench' })
const cells: string[] = []
for (let c = 0; c < 40; c++) {
  if (c === 20) clock.now = Date.now() - DAY // the second half is recent
  const cell = await store.services.cells.create({
    workspaceId: ws.id,
    name: `cell ${c}`,
    type: 'implementation',
  })
  cells.push(cell.id)
  for (let s = 0; s < 4; s++) await session(store, cell.id, 150)
  for (let a = 0; a < 30; a++)
    await store.services.artifacts.put(
      { cellId: cell.id, type: 'log', name: `run-${a}.log` },
      log(c * 100 + a),
    )
}
clock.now = null
// Blob files as old as their rows (gc's grace period reads file times).
for await (const blob of store.blobs.list()) {
  const when = (Date.now() - 2 * DAY) / 1000
  utimesSync(blob.path, when, when)
}
const foreground = await store.services.cells.create({
  workspaceId: ws.id,
  name: 'the live cell',
  type: 'implementation',
})
const live = await store.services.sessions.create({
  cellId: foreground.id,
  provider: 'opencode',
  mode: 'build',
  status: 'active',
})
store.database.checkpoint('truncate')

async function session(s: HiveStore, cellId: string, messages: number) {
  const created = await s.services.sessions.create({
    cellId,
    provider: 'opencode',
    mode: 'build',
    status: 'completed',
  })
  for (let m = 0; m < messages; m++) await append(s, cellId, created.id, m)
}

async function append(s: HiveStore, cellId: string, sessionId: string, m: number) {
  const id = ids.message()
  await s.services.transcripts.append({ cellId, sessionId }, {
    info: { id, role: m % 2 ? 'assistant' : 'user', time: { created: Date.now() } },
    parts: [
      { id: ids.part(), messageID: id, type: 'text', text: `message ${m}: ${line(m)} `.repeat(6) },
      {
        id: ids.part(),
        messageID: id,
        type: 'tool',
        tool: 'bash',
        callID: `c${m}`,
        state: {
          status: 'completed',
          input: { command: 'npm test' },
          output: line(m).repeat(20),
          title: 't',
          metadata: {},
          time: { start: 1, end: 2 },
        },
      },
    ],
  } as never)
}

/**
 * Appends a message every INTERVAL_MS for PHASE_MS; returns each append's latency in ms, counted
 * from when it was due (not from when the writer got round to it): time the event loop or the
 * write lock was held by someone else counts, however it delayed the writer.
 */
async function steadyWriter(): Promise<number[]> {
  const latencies: number[] = []
  const start = performance.now()
  for (let m = 0; m * INTERVAL_MS < PHASE_MS; m++) {
    const due = start + m * INTERVAL_MS
    const wait = due - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    await append(store, foreground.id, live.id, m)
    latencies.push(performance.now() - due)
  }
  return latencies
}

function stats(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
  return { appends: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) as number }
}

/** Readers in a worker thread all along (a server's read pool): checkpoints meet open snapshots. */
const pool = new ReadPool({ path: store.layout.database, size: 1 })
let reading = true
const readers = (async () => {
  let reads = 0
  while (reading) {
    await pool.query({
      sql: 'SELECT count(*) AS n FROM parts WHERE text LIKE ?',
      parameters: [`%module-${reads % 97}%`],
    })
    reads += 1
  }
  return reads
})()

// ---- phase A: the writer alone ----
const quiet = stats(await steadyWriter())

// ---- phase B: the writer with maintenance running flat out ----
writeRetentionPolicy(store, { artifactMaxAgeDays: { log: 30 }, keepSessionsPerCell: 1 })
writeMaintenanceSettings(store, {
  checkpointEveryMs: 1000,
  integrityEveryMs: 1000,
  retentionEveryMs: 1000,
  gcEveryMs: 1000,
  vacuumEveryMs: 1000,
  ftsOptimizeEveryMs: 1000,
  blobsPerCheck: 200,
  gcGraceMs: 5 * 60 * 1000,
})
const runsBefore = store.operations.list({ limit: 1000 }).length
const runner = new MaintenanceRunner(store, { tickMs: 50 })
runner.start()
const busy = stats(await steadyWriter())
await runner.stop()
reading = false
const reads = await readers
await pool.close()
const runs = store.operations.list({ limit: 1000 }).slice(0, -runsBefore || undefined)
const maintenanceRuns = runs.filter((op) => op.kind.startsWith('maintenance.'))
const byTask = new Map<string, number>()
for (const op of maintenanceRuns)
  byTask.set(op.kind.replace('maintenance.', ''), (byTask.get(op.kind.replace('maintenance.', '')) ?? 0) + 1)
const figures = maintenanceRuns.map((op) => op.result as Record<string, number> | null)
const deletedSessions = figures.reduce((sum, f) => sum + (f?.deletedSessions ?? 0), 0)
const deletedArtifacts = figures.reduce((sum, f) => sum + (f?.deletedArtifacts ?? 0), 0)
const blobsFreed = figures.reduce((sum, f) => sum + (f?.removed ?? 0), 0)
const verified = figures.reduce((sum, f) => sum + (f?.blobsVerified ?? 0), 0)
await store.close()
rmSync(dir, { recursive: true, force: true })

const ms = (n: number) => `${n.toFixed(2)} ms`
const row = (name: string, s: ReturnType<typeof stats>) =>
  `| ${name} | ${s.appends} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} |`
const ratio = busy.p99 / quiet.p99
const results = [
  '| foreground writer | appends | p50 | p99 | max |',
  '|---|---:|---:|---:|---:|',
  row('alone', quiet),
  row('with maintenance running', busy),
].join('\n')
const work = `During the second phase the runner did ${maintenanceRuns.length} task runs (${[...byTask].map(([t, n]) => `${t} ${n}`).join(', ')}): ${deletedSessions} sessions and ${deletedArtifacts} artifacts deleted by retention, ${blobsFreed} blob files collected, ${verified} blobs verified.`
const report = `# @hive/store benchmarks

${machine()}. Reproduce: \`pnpm --filter @hive/store bench\`. Compare ratios measured in one run, not absolute times (shared machines).

## Write latency with background maintenance

A foreground writer appends a transcript message (two parts) every ${INTERVAL_MS} ms for ${PHASE_MS / 1000} s (each latency counted from when the append was due, so any stall of the event loop counts), on a store of 40 cells,
24,000 messages and 1,200 logs (half of them 90 days old), first alone, then with the maintenance runner working flat out
beside it on the same connection: every task due every second, a retention policy with work to do (logs older than 30 days,
one session kept per cell). A reader in a worker thread runs searches all along (${reads} of them), as a server's read pool would.

${results}

p99 with maintenance: **${ratio.toFixed(2)}×** the writer alone. ${work}

Maintenance holds the write lock in small batches (100 messages or artifacts, 256 pages of vacuum, one FTS merge step) with a pause
between them, waits while the store is busy, and runs its quick_check in a worker thread.
`
writeFileSync(join(here, 'BENCHMARKS.md'), report)
replaceSection(
  join(here, '..', '..', 'README.md'),
  'maintenance',
  `Background maintenance: a steady writer's p99 append latency ${ms(quiet.p99)} alone, ${ms(busy.p99)} with the maintenance runner working flat out beside it (${ratio.toFixed(2)}×; ${maintenanceRuns.length} task runs meanwhile). [apps/store/BENCHMARKS.md](apps/store/BENCHMARKS.md)`,
)
console.log(report)
