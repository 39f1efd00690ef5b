// Benchmarks of the query services against raw better-sqlite3 prepared statements doing the same
// work (same SQL, same rows, same data), at 10k, 100k and 1M messages, in one run:
//   append (a message and its parts, one transaction), transcript page, cell list page, search.
// Run: pnpm --filter @hive/queries bench   (writes BENCHMARKS.md here and the README's summary)
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { hiveMigrations, Migrator } from '@hive/migrations'
import { createIdGenerator, type Database } from '@hive/schema'
import { openDatabase } from '@hive/sqlite'
import { machine, replaceSection } from '@hive/testing'
import { createQueryServices } from '../src/index.js'

const here = new URL('..', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'hive-queries-bench-'))
const database = openDatabase<Database>(join(dir, 'hive.db'), { cacheSizeKiB: 64 * 1024 })
const migrated = await new Migrator({ dialect: database.dialect, source: hiveMigrations }).up()
if (!migrated.ok) throw migrated.error
const sqlite = database.sqlite
const services = createQueryServices({
  db: database.db,
  content: new BlobStore({ root: join(dir, 'blobs') }),
  writer: database,
})

// ---- data ----
let clock = Date.UTC(2026, 0, 1)
const tick = () => (clock += 7)
const messageId = createIdGenerator('msg', { now: tick })
const partId = createIdGenerator('prt', { now: tick })
const cellId = createIdGenerator('cell', { now: tick })
// Words with a Zipf-like spread, as in real text: a few very common, most rare.
const COMMON = 'the a to of and in is for on that it with as this be by are from or at'.split(' ')
const TERMS = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`)
// mulberry32: a small, well-spread deterministic generator.
let seed = 1
const random = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n)
}
const word = () => {
  if (random(3) === 0) return COMMON[random(COMMON.length)] as string
  // Rank r drawn with probability ~ 1/r: an inverse of the harmonic spread.
  const rank = Math.floor(Math.exp((random(1_000_000) / 1_000_000) * Math.log(TERMS.length)))
  return TERMS[Math.min(TERMS.length - 1, rank)] as string
}
const sentence = (n: number) => Array.from({ length: n }, word).join(' ')

const CELLS = 2000
const workspace = 'ws_bench00000000000000000000'
sqlite
  .prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)')
  .run(workspace, 'bench', '/bench', clock, clock)
const statuses = ['draft', 'active', 'awaiting_input', 'reviewing', 'completed', 'parked', 'archived']
const insertCell = sqlite.prepare(
  'INSERT INTO cells (id, workspace_id, name, description, type, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
)
const insertSession = sqlite.prepare(
  "INSERT INTO sessions (id, cell_id, provider, mode, status, created_at, updated_at) VALUES (?, ?, 'opencode', 'build', 'active', ?, ?)",
)
const sessions: Array<{ cellId: string; sessionId: string }> = []
database.transaction(() => {
  for (let i = 0; i < CELLS; i++) {
    const id = cellId()
    insertCell.run(
      id,
      workspace,
      `Cell ${i}: ${sentence(3)}`,
      sentence(8),
      i % 3 ? 'implementation' : 'planning',
      statuses[i % statuses.length],
      clock,
      tick(),
    )
    const session = `ses_bench${String(i).padStart(19, '0')}`
    insertSession.run(session, id, clock, clock)
    sessions.push({ cellId: id, sessionId: session })
  }
})
const big = sessions[0] as { cellId: string; sessionId: string }
const appendTo = sessions[1] as { cellId: string; sessionId: string }
const rawTo = sessions[2] as { cellId: string; sessionId: string }

function messageOf(i: number) {
  const id = messageId()
  const created = tick()
  const info = {
    id,
    sessionID: 'ses_opencode',
    role: i % 4 === 0 ? 'user' : 'assistant',
    time: { created, completed: created + 5 },
    modelID: 'claude-sonnet-4-5',
    providerID: 'anthropic',
    cost: 0.0012,
    tokens: { input: 1200, output: 300, reasoning: 0, cache: { read: 0, write: 0 } },
  }
  // Like OpenCode's: a step with text and one tool call whose output is 1–2 KB.
  const output = Array.from(
    { length: 24 },
    (_, line) => `${String(line + 1).padStart(5, '0')}| ${sentence(8)}`,
  ).join('\n')
  const parts = [
    { id: partId(), sessionID: 'ses_opencode', messageID: id, type: 'step-start', snapshot: 'a'.repeat(40) },
    {
      id: partId(),
      sessionID: 'ses_opencode',
      messageID: id,
      type: 'text',
      text: sentence(25),
      time: { start: created, end: created },
    },
    {
      id: partId(),
      sessionID: 'ses_opencode',
      messageID: id,
      type: 'tool',
      callID: `call_${id}`,
      tool: 'bash',
      state: {
        status: 'completed',
        input: { command: 'pnpm test' },
        output,
        title: 'Run the tests',
        metadata: { exit: 0 },
        time: { start: created, end: created + 3 },
      },
    },
    {
      id: partId(),
      sessionID: 'ses_opencode',
      messageID: id,
      type: 'step-finish',
      reason: 'stop',
      cost: 0.0012,
      tokens: { input: 1200, output: 300 },
    },
  ]
  return { info, parts }
}

// The raw side: the same statements the services run, prepared once.
const rawSessionCell = sqlite.prepare('SELECT cell_id FROM sessions WHERE id = ?').pluck()
const rawUpsertMessage =
  sqlite.prepare(`INSERT INTO messages (id, session_id, role, parent_id, state, model_id, provider_id, tokens_input, tokens_output,
  tokens_reasoning, tokens_cache_read, tokens_cache_write, cost, error, data, created_at, updated_at, completed_at, seq)
  VALUES (?, ?, ?, NULL, 'completed', ?, ?, ?, ?, 0, 0, 0, ?, NULL, ?, ?, ?, ?, (SELECT coalesce(max(seq), -1) + 1 FROM messages WHERE session_id = ?))
  ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at WHERE messages.session_id = excluded.session_id`)
const rawUpsertPart =
  sqlite.prepare(`INSERT INTO parts (id, message_id, type, data, text, artifact_id, created_at, updated_at, seq)
  VALUES (?, ?, ?, ?, ?, NULL, ?, ?, (SELECT coalesce(max(seq), -1) + 1 FROM parts WHERE message_id = ?))
  ON CONFLICT (id) DO UPDATE SET data = excluded.data, text = excluded.text, updated_at = excluded.updated_at WHERE parts.message_id = excluded.message_id`)
const rawAppend = sqlite.transaction(
  (ref: { cellId: string; sessionId: string }, m: ReturnType<typeof messageOf>) => {
    if (rawSessionCell.get(ref.sessionId) !== ref.cellId) throw new Error('wrong cell')
    const i = m.info
    rawUpsertMessage.run(
      i.id,
      ref.sessionId,
      i.role,
      i.modelID,
      i.providerID,
      i.tokens.input,
      i.tokens.output,
      i.cost,
      JSON.stringify(i),
      i.time.created,
      clock,
      i.time.completed,
      ref.sessionId,
    )
    for (const p of m.parts as Array<Record<string, unknown> & { id: string; type: string }>) {
      const state = p.state as { title: string; output: string } | undefined
      const text =
        typeof p.text === 'string' ? p.text : state ? [p.tool, state.title, state.output].join('\n') : null
      rawUpsertPart.run(p.id, i.id, p.type, JSON.stringify(p), text, i.time.created, clock, i.id)
    }
  },
)

let total = 0
function grow(to: number) {
  // Half of all messages in one big session, the rest spread over the others.
  const batch = 5000
  while (total < to) {
    database.transaction(() => {
      for (let k = 0; k < batch && total < to; k++, total++) {
        const ref =
          total % 2 === 0
            ? big
            : (sessions[3 + random(sessions.length - 3)] as { cellId: string; sessionId: string })
        rawAppend.immediate(ref, messageOf(total))
      }
    })
  }
}

const rawPageMessages = sqlite.prepare(
  'SELECT * FROM messages WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?',
)
const rawPageParts = sqlite.prepare(
  'SELECT id, message_id, seq, type, data, text, artifact_id, created_at, updated_at FROM parts WHERE message_id IN (SELECT id FROM messages WHERE session_id = ? AND seq >= ? AND seq <= ?) ORDER BY message_id, seq',
)
function rawPage(sessionId: string, after: number, limit: number) {
  const messages = rawPageMessages.all(sessionId, after, limit) as Array<{ id: string; seq: number }>
  if (messages.length === 0) return []
  const parts = rawPageParts.all(sessionId, messages[0]?.seq, messages.at(-1)?.seq) as Array<{
    message_id: string
  }>
  const byMessage = new Map<string, unknown[]>()
  for (const part of parts) {
    const list = byMessage.get(part.message_id)
    if (list) list.push(part)
    else byMessage.set(part.message_id, [part])
  }
  return messages.map((m) => ({ ...m, parts: byMessage.get(m.id) ?? [] }))
}
const rawList = sqlite.prepare(
  'SELECT * FROM cells WHERE workspace_id = ? AND status IN (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?',
)
const rawSearch =
  sqlite.prepare(`SELECT kind, ref_id, cell_id, workspace_id, cell_type, session_id, created_at,
  highlight(search, 0, char(1), char(2)) AS title_marked, snippet(search, 1, char(1), char(2), '…', 24) AS snippet_marked,
  bm25(search, 10.0, 1.0, 0.0, 0.0, 0.0, 0.0) AS score FROM search WHERE search MATCH ? ORDER BY score, search.rowid LIMIT ? OFFSET 0`)

// ---- measuring ----
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
async function timeOps(ops: number, fn: (i: number) => unknown): Promise<number> {
  const started = process.hrtime.bigint()
  for (let i = 0; i < ops; i++) await fn(i)
  return Number(process.hrtime.bigint() - started) / 1e3 / ops // µs per op
}
interface Row {
  size: number
  family: string
  ours: number
  raw: number
}
const rows: Row[] = []
async function compareFamily(
  size: number,
  family: string,
  ops: number,
  ours: (i: number) => unknown,
  raw: (i: number) => unknown,
) {
  const o: number[] = []
  const r: number[] = []
  await timeOps(Math.ceil(ops / 5), ours)
  await timeOps(Math.ceil(ops / 5), raw)
  for (let round = 0; round < 7; round++) {
    if (round % 2) {
      o.push(await timeOps(ops, ours))
      r.push(await timeOps(ops, raw))
    } else {
      r.push(await timeOps(ops, raw))
      o.push(await timeOps(ops, ours))
    }
  }
  rows.push({ size, family, ours: median(o), raw: median(r) })
  console.log(`${size} ${family}: ours ${median(o).toFixed(1)} µs, raw ${median(r).toFixed(1)} µs`)
}

const firstPage: Record<number, number> = {}
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number)
for (const size of SIZES) {
  console.log(`growing to ${size} messages…`)
  grow(size)
  sqlite.pragma('optimize')
  const bigCount = sqlite
    .prepare('SELECT count(*) FROM messages WHERE session_id = ?')
    .pluck()
    .get(big.sessionId) as number
  const middle = Math.floor(bigCount / 2)
  await compareFamily(
    size,
    'append (message + 4 parts)',
    400,
    (i) => services.transcripts.append(appendTo, messageOf(i) as never),
    (i) => rawAppend.immediate(rawTo, messageOf(i)),
  )
  await compareFamily(
    size,
    'transcript page (50 messages)',
    200,
    () => services.transcripts.page(big.sessionId, { limit: 50 }),
    () => rawPage(big.sessionId, -1, 50),
  )
  const cursor = (await services.transcripts.page(big.sessionId, { limit: 1 })).next as string
  const deep = Buffer.from(JSON.stringify({ v: 1, k: [middle] })).toString('base64url')
  void cursor
  await compareFamily(
    size,
    'transcript page, mid-session',
    200,
    () => services.transcripts.page(big.sessionId, { after: deep, limit: 50 }),
    () => rawPage(big.sessionId, middle, 50),
  )
  await compareFamily(
    size,
    'cell list page (50 of 2000)',
    200,
    () => services.cells.list({ workspaceId: workspace, statuses: ['active', 'awaiting_input'], limit: 50 }),
    () => rawList.all(workspace, 'active', 'awaiting_input', 51),
  )
  // A benchmark that measures nothing is worse than none: both sides must find hits.
  // Two terms of middling frequency (ranks ~40 and ~60): thousands of hits at 1M messages.
  const terms = `${TERMS[40]} ${TERMS[60]}`
  const match = `{title body} : ("${TERMS[40]}" "${TERMS[60]}")`
  const sample = await services.search.search({ text: terms, limit: 20 })
  const rawSample = rawSearch.all(match, 21)
  if (sample.hits.length !== 20 || rawSample.length !== 21) {
    throw new Error(
      `search found ${sample.hits.length} / ${rawSample.length} hits: the data is not what the benchmark expects`,
    )
  }
  await compareFamily(
    size,
    'search (2 words, top 20)',
    20,
    () => services.search.search({ text: terms, limit: 20 }),
    () => rawSearch.all(match, 21),
  )
  firstPage[size] = rows.find((r) => r.size === size && r.family.startsWith('transcript page (50'))?.ours ?? 0
}
const dbBytes = statSync(join(dir, 'hive.db')).size
database.close()
rmSync(dir, { recursive: true, force: true })

// ---- report ----
const ratio = (r: Row) => r.raw / r.ours
const at = (size: number, family: string) =>
  rows.find((r) => r.size === size && r.family.startsWith(family)) as Row
const worst = (family: string) => Math.min(...[100_000, 1_000_000].map((size) => ratio(at(size, family))))
const scaling = (firstPage[1_000_000] ?? 0) / (firstPage[10_000] ?? 1)
const summary = [
  `Query services vs raw better-sqlite3 prepared statements, same SQL and data (${machine()}), 2000 cells, medians of 7 interleaved rounds; worst of 100k and 1M messages:`,
  '',
  `- append (a message and its 4 parts, one transaction) at **${worst('append').toFixed(2)}×** raw (target ≥ 0.8×)`,
  `- transcript page at **${worst('transcript page (50').toFixed(2)}×** raw, mid-session **${worst('transcript page, mid').toFixed(2)}×** (target ≥ 0.7×)`,
  `- cell list page at **${worst('cell list').toFixed(2)}×** raw (target ≥ 0.7×)`,
  `- search at **${worst('search').toFixed(2)}×** raw`,
  `- the first transcript page at 1M messages takes **${scaling.toFixed(2)}×** its time at 10k (target ≤ 1.5×)`,
].join('\n')
const table = [
  '| messages | query | ours µs | raw µs | ours vs raw |',
  '|---:|---|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.size.toLocaleString('en-US')} | ${r.family} | ${r.ours.toFixed(1)} | ${r.raw.toFixed(1)} | ${ratio(r).toFixed(2)}× |`,
  ),
].join('\n')
writeFileSync(
  join(here, 'BENCHMARKS.md'),
  `# @hive/queries benchmarks

Written by \`pnpm --filter @hive/queries bench\` (bench/queries.bench.ts). The data is generated at
bench time: 2000 cells with a session each, half of all messages in one session, four parts a
message as OpenCode writes them (step-start, a 25-word text part, a bash tool call with a 1–2 KB
output, step-finish; the search index holds the text and the tool output). The raw side
runs the same SQL through better-sqlite3 prepared statements, and does the same work around it
(JSON of the objects, grouping parts under messages); the services add validation, typed
results and the Kysely executor. Compare the ratios, measured in one run: the machine is shared.

${summary}

${table}

Database at 1M messages: ${(dbBytes / 2 ** 30).toFixed(2)} GiB.
`,
)
replaceSection(join(here, '..', '..', 'README.md'), 'queries', summary)
console.log(summary)
