// Benchmarks of the query services against raw better-sqlite3 prepared statements doing the same
// work (same SQL, same rows, same data), at 10k, 100k and 1M messages, in one run:
//   append (a message and its parts, one transaction), transcript page, cell list page, search.
// Run: pnpm --filter @hive/queries bench   (writes BENCHMARKS.md here and the README's summary)
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { machine, replaceSection } from '@hive/testing'
import { createQueryServices } from '../src/index.js'
import { benchData } from './data.js'

const here = new URL('..', import.meta.url).pathname
const data = await benchData('queries')
const { database, sqlite, workspace, big, appendTo, rawTo, TERMS, messageOf, rawAppend, grow } = data
const services = createQueryServices({ db: database.db, content: data.content, writer: database })

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
  const deep = Buffer.from(JSON.stringify({ v: 1, k: [middle], s: `transcript:${big.sessionId}` })).toString(
    'base64url',
  )
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
const dbBytes = statSync(data.path).size
database.close()
data.remove()

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
replaceSection(
  join(here, 'BENCHMARKS.md'),
  'queries',
  `${summary}

${table}

Database at 1M messages: ${(dbBytes / 2 ** 30).toFixed(2)} GiB.`,
)
replaceSection(join(here, '..', '..', 'README.md'), 'queries', summary)
console.log(summary)
