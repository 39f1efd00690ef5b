// The benchmarks' data, generated at bench time: 2000 cells with a session each, half of all
// messages in one session, four parts a message as OpenCode writes them (step-start, a 25-word
// text part, a bash tool call with a 1–2 KB output, step-finish), words with a Zipf-like spread.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { hiveMigrations, Migrator } from '@hive/migrations'
import { createIdGenerator, type Database } from '@hive/schema'
import { openDatabase } from '@hive/sqlite'

export interface SessionRef {
  readonly cellId: string
  readonly sessionId: string
}

/** A migrated database in a temp dir, filled by `grow`, with the raw append the benchmarks compare against. */
export async function benchData(name: string) {
  const dir = mkdtempSync(join(tmpdir(), `hive-${name}-bench-`))
  const database = openDatabase<Database>(join(dir, 'hive.db'), { cacheSizeKiB: 64 * 1024 })
  const migrated = await new Migrator({ dialect: database.dialect, source: hiveMigrations }).up()
  if (!migrated.ok) throw migrated.error
  const sqlite = database.sqlite
  const content = new BlobStore({ root: join(dir, 'blobs') })

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
  const sessions: SessionRef[] = []
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
  const big = sessions[0] as SessionRef
  const appendTo = sessions[1] as SessionRef
  const rawTo = sessions[2] as SessionRef

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
      {
        id: partId(),
        sessionID: 'ses_opencode',
        messageID: id,
        type: 'step-start',
        snapshot: 'a'.repeat(40),
      },
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
    tokens_reasoning, tokens_cache_read, tokens_cache_write, cost, error, data, created_at, updated_at, completed_at, artifact_id, seq)
    VALUES (?, ?, ?, NULL, 'completed', ?, ?, ?, ?, 0, 0, 0, ?, NULL, ?, ?, ?, ?, NULL, (SELECT coalesce(max(seq), -1) + 1 FROM messages WHERE session_id = ?))
    ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at, artifact_id = excluded.artifact_id WHERE messages.session_id = excluded.session_id`)
  const rawUpsertPart =
    sqlite.prepare(`INSERT INTO parts (id, message_id, type, data, text, artifact_id, created_at, updated_at, seq)
    VALUES (?, ?, ?, ?, ?, NULL, ?, ?, (SELECT coalesce(max(seq), -1) + 1 FROM parts WHERE message_id = ?))
    ON CONFLICT (id) DO UPDATE SET data = excluded.data, text = excluded.text, updated_at = excluded.updated_at WHERE parts.message_id = excluded.message_id`)
  const rawAppend = sqlite.transaction((ref: SessionRef, m: ReturnType<typeof messageOf>) => {
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
  })

  let total = 0
  function grow(to: number) {
    // Half of all messages in one big session, the rest spread over the others.
    const batch = 5000
    while (total < to) {
      database.transaction(() => {
        for (let k = 0; k < batch && total < to; k++, total++) {
          const ref = total % 2 === 0 ? big : (sessions[3 + random(sessions.length - 3)] as SessionRef)
          rawAppend.immediate(ref, messageOf(total))
        }
      })
    }
  }

  return {
    dir,
    path: join(dir, 'hive.db'),
    database,
    sqlite,
    content,
    workspace,
    sessions,
    big,
    appendTo,
    rawTo,
    TERMS,
    random,
    sentence,
    messageOf,
    rawAppend,
    grow,
    /** Messages written by `grow` so far. */
    size: () => total,
    remove() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
