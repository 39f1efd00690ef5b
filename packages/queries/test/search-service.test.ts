import { join } from 'node:path'
import { hiveMigrations, Migrator } from '@hive/migrations'
import { type Database, ids } from '@hive/schema'
import { openDatabase, type SqliteDatabase } from '@hive/sqlite'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import {
  CellService,
  matchExpression,
  PlanService,
  SearchService,
  TranscriptService,
  userQuery,
} from '../src/index.js'
import { world } from './helpers.js'

const hex = (value: string) => Buffer.from(value, 'utf8').toString('hex')

/**
 * Two workspaces and two cells whose ids differ only in case (ids may be mixed-case; the services
 * make lower-case ones, so these go in with SQL), each with a plan and a transcript part.
 */
function twins(sqlite: SqliteDatabase['sqlite']) {
  const run = (statement: string, ...values: unknown[]) => sqlite.prepare(statement).run(...values)
  const made = [
    { workspace: 'ws_TwinA', cell: 'cell_TwinA', session: 'ses_TwinA', message: 'msg_TwinA', type: 'manual' },
    {
      workspace: 'ws_twina',
      cell: 'cell_twina',
      session: 'ses_twina',
      message: 'msg_twina',
      type: 'planning',
    },
  ]
  for (const t of made) {
    run('INSERT INTO workspaces VALUES (?, ?, ?, 1, 1)', t.workspace, t.workspace, `/${t.workspace}`)
    run(
      "INSERT INTO cells (id, workspace_id, name, type, status, created_at, updated_at) VALUES (?, ?, 'Twin study', ?, 'active', 1, 1)",
      t.cell,
      t.workspace,
      t.type,
    )
    run(
      "INSERT INTO plans (id, cell_id, version, content, status, created_at, updated_at) VALUES (?, ?, 1, 'twin plan', 'draft', 2, 2)",
      `pln_${t.cell.slice(5)}`,
      t.cell,
    )
    run(
      "INSERT INTO sessions (id, cell_id, provider, mode, status, created_at, updated_at) VALUES (?, ?, 'opencode', 'build', 'active', 3, 3)",
      t.session,
      t.cell,
    )
    run(
      "INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES (?, ?, 0, 'user', 'completed', '{}', 4, 4)",
      t.message,
      t.session,
    )
    run(
      "INSERT INTO parts (id, message_id, seq, type, data, text, created_at, updated_at) VALUES (?, ?, 0, 'text', '{}', 'twin words', 5, 5)",
      `prt_${t.cell.slice(5)}`,
      t.message,
    )
  }
  return made
}

async function corpus() {
  const w = await world()
  const cells = new CellService({ db: w.db })
  const transcripts = new TranscriptService({ db: w.db })
  const plans = new PlanService({ db: w.db })
  const search = new SearchService({ db: w.db })
  const say = async (cellId: string, sessionId: string, text: string, type = 'text', created = 1000) => {
    const message = ids.message()
    await transcripts.append(
      { cellId, sessionId },
      {
        info: { id: message, role: 'assistant', time: { created } },
        parts: [{ id: ids.part(), messageID: message, type, text, time: { start: created } }],
      },
    )
    return message
  }
  await say(
    w.cell,
    w.session,
    'The login test is flaky on CI because of a race in the session store',
    'text',
    1000,
  )
  await say(
    w.cell,
    w.session,
    'Considering whether the retry logic should back off exponentially',
    'reasoning',
    2000,
  )
  await say(
    w.otherCell,
    w.otherSession,
    'Retrying the deployment after the flaky network error',
    'text',
    3000,
  )
  await plans.add({ cellId: w.otherCell, content: 'Plan: make the login flow retry with backoff' })
  const planning = await cells.create({
    workspaceId: w.workspace,
    name: 'Investigate flaky login',
    description: 'races everywhere',
    type: 'planning',
  })
  return { w, search, planning }
}

describe('SearchService', () => {
  it('ranks matches across cells, with snippets that mark the matched words', async () => {
    const { search, planning } = await corpus()
    const { hits } = await search.search({ text: 'flaky login' })
    expect(hits.map((h) => h.kind).sort()).toEqual(['cell', 'text'])
    // The title match (a cell named so) outranks a body match.
    expect(hits[0]).toMatchObject({ kind: 'cell', refId: planning.id })
    const text = hits.find((h) => h.kind === 'text')!
    expect(text.snippet.filter((s) => s.match).map((s) => s.text.toLowerCase())).toEqual(['login', 'flaky'])
    expect(text.snippet.map((s) => s.text).join('')).toContain('test is')
  })

  it('understands quoted phrases and prefix*', async () => {
    const { search } = await corpus()
    expect((await search.search({ text: '"login test"' })).hits).toHaveLength(1)
    expect((await search.search({ text: '"test login"' })).hits).toHaveLength(0)
    expect((await search.search({ text: 'retr*' })).hits.map((h) => h.kind).sort()).toEqual([
      'plan',
      'reasoning',
      'text',
    ])
    expect((await search.search({ text: 'retr' })).hits).toHaveLength(0)
  })

  it('applies filters inside the index query: workspace, cells, cell type, kind, time', async () => {
    const { w, search, planning } = await corpus()
    expect(
      (await search.search({ text: 'flaky', cellIds: [w.otherCell] })).hits.map((h) => h.cellId),
    ).toEqual([w.otherCell])
    expect(
      (await search.search({ text: 'flaky', cellTypes: ['planning'] })).hits.map((h) => h.refId),
    ).toEqual([planning.id])
    expect(
      (await search.search({ text: 'retr*', kinds: ['plan', 'reasoning'] })).hits.map((h) => h.kind).sort(),
    ).toEqual(['plan', 'reasoning'])
    expect(
      (await search.search({ text: 'flaky', from: 2500, to: 3500 })).hits.map((h) => h.createdAt),
    ).toEqual([3000])
    expect((await search.search({ text: 'flaky', workspaceId: ids.workspace() })).hits).toEqual([])
    // Filters narrow the search, not a page of it: one hit per page, all of them reachable.
    const pages: string[] = []
    let cursor: string | undefined
    let first: string | undefined
    do {
      const page = await search.search({ text: 'flaky', limit: 1, ...(cursor ? { cursor } : {}) })
      pages.push(...page.hits.map((h) => h.refId))
      cursor = page.nextCursor ?? undefined
      first ??= cursor
    } while (cursor)
    const all = (await search.search({ text: 'flaky', limit: 50 })).hits.map((h) => h.refId)
    expect(all.length).toBeGreaterThanOrEqual(3)
    expect(pages).toEqual(all)
    // A cursor is a place in one query's ranking: another query refuses it.
    await expect(search.search({ text: 'login', cursor: first as string })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })

  it('finds a part under its new kind, and not its old one, when only its type changes', async () => {
    const { w, search } = await corpus()
    const transcripts = new TranscriptService({ db: w.db })
    const part = { id: ids.part(), messageID: w.message }
    const text = 'weighing the quicksort pivot'
    await transcripts.upsertPart({ cellId: w.cell, sessionId: w.session }, { ...part, type: 'text', text })
    const kinds = async (kind: 'text' | 'reasoning') =>
      (await search.search({ text: 'pivot', kinds: [kind] })).hits.map((h) => [h.kind, h.refId])
    expect(await kinds('text')).toEqual([['text', part.id]])
    await transcripts.upsertPart(
      { cellId: w.cell, sessionId: w.session },
      { ...part, type: 'reasoning', text },
    )
    expect(await kinds('reasoning')).toEqual([['reasoning', part.id]])
    expect(await kinds('text')).toEqual([])
  })

  it('keeps filters case-exact: ids that differ only in case each see only their own documents', async () => {
    const w = await world()
    const search = new SearchService({ db: w.db })
    const [upper, lower] = twins(w.sqlite)
    for (const twin of [upper!, lower!]) {
      for (const hits of [
        (await search.search({ text: 'twin', cellIds: [twin.cell] })).hits,
        (await search.search({ text: 'twin', workspaceId: twin.workspace })).hits,
      ]) {
        // The cell, its plan and its part; hits carry the ids exactly as written.
        expect(hits.map((h) => h.kind).sort()).toEqual(['cell', 'plan', 'text'])
        expect(new Set(hits.map((h) => `${h.cellId} ${h.workspaceId} ${h.cellType}`))).toEqual(
          new Set([`${twin.cell} ${twin.workspace} ${twin.type}`]),
        )
        expect(hits.find((h) => h.kind === 'text')?.sessionId).toBe(twin.session)
      }
    }
    expect((await search.search({ text: 'twin', cellIds: [upper!.cell, lower!.cell] })).hits).toHaveLength(6)
    expect((await search.search({ text: 'twin', cellIds: ['cell_TWINA'] })).hits).toEqual([])
  })

  it('never matches ids, kinds or cell types through the user text', async () => {
    const { w, search } = await corpus()
    const tokens = [`k${hex('text')}`, `c${hex(w.cell)}`, `w${hex(w.workspace)}`, `t${hex('implementation')}`]
    for (const text of ['cell', 'ws', 'implementation', 'text', 'reasoning', 'msg', 'prt', ...tokens]) {
      expect((await search.search({ text })).hits, text).toEqual([])
    }
  })

  it('takes any text without an error: FTS5 syntax is never syntax here', async () => {
    const { search } = await corpus()
    const specials = [
      '"',
      "'",
      '(',
      ')',
      '*',
      ':',
      '^',
      '-',
      '+',
      'AND',
      'OR',
      'NOT',
      'NEAR',
      '{',
      '}',
      '[',
      ']',
      ',',
      '.',
      '\\',
      '/',
      '%',
      '_',
      '\u0000',
      '\u0001',
      '😀',
      'é',
      '\t',
      '\n',
      'login',
      'NEAR(a b, 2)',
      'col:val',
      '"unterminated',
    ]
    let seed = 7
    const pick = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return specials[Math.floor(seed / 65_536) % specials.length]!
    }
    for (let i = 0; i < 500; i++) {
      const length = 1 + (i % 12)
      const text = Array.from({ length }, () => pick()).join(i % 3 === 0 ? '' : ' ')
      const result = await search.search({ text })
      expect(Array.isArray(result.hits), text).toBe(true)
    }
    await expect(search.search({ text: 'x'.repeat(1001) })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })

  it('rejects malformed options with typed errors', async () => {
    const { search } = await corpus()
    for (const query of [
      { text: 'x', limit: 0 },
      { text: 'x', limit: 101 },
      { text: 'x', cursor: 'bad!' },
      { text: 'x', kinds: ['movies'] },
      { text: 'x', cellIds: ['nope'] },
      { text: 'x', extra: 1 },
      { text: 42 },
    ]) {
      await expect(search.search(query as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    }
  })
})

describe('userQuery', () => {
  it('quotes every term and keeps phrases and prefixes', () => {
    expect(userQuery('fix "login page" auth*')).toBe('"fix" "login page" "auth"*')
    expect(userQuery('NOT (x) OR "')).toBe('"NOT" "(x)" "OR"')
    expect(userQuery('say "hi"" there')).toBe('"say" "hi" "there"')
    expect(userQuery('*** ()')).toBeNull()
    expect(userQuery('fix log', { prefixLast: true })).toBe('"fix" "log"*')
  })
})

describe('the search index', () => {
  it('stays consistent through thousands of random inserts, updates and deletes', async () => {
    const w = await world()
    const transcripts = new TranscriptService({ db: w.db })
    const cells = new CellService({ db: w.db })
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta']
    let seed = 99
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return Math.floor(seed / 65_536) % n
    }
    const sentence = () => Array.from({ length: 1 + rand(8) }, () => words[rand(words.length)]).join(' ')
    const messages: string[] = []
    const parts: Array<{ id: string; messageID: string }> = []
    const madeCells: string[] = []
    for (let step = 0; step < 3000; step++) {
      const action = rand(10)
      if (action < 3 || parts.length === 0) {
        const message = ids.message()
        const part = { id: ids.part(), messageID: message }
        await transcripts.append(
          { cellId: w.cell, sessionId: w.session },
          {
            info: { id: message, role: 'user', time: { created: step } },
            parts: [{ ...part, type: 'text', text: sentence() }],
          },
        )
        messages.push(message)
        parts.push(part)
      } else if (action < 6) {
        const part = parts[rand(parts.length)]!
        await transcripts.upsertPart(
          { cellId: w.cell, sessionId: w.session },
          { ...part, type: rand(2) ? 'text' : 'reasoning', text: rand(5) === 0 ? '' : sentence() },
        )
      } else if (action < 7) {
        const i = rand(messages.length)
        w.sqlite.prepare('DELETE FROM messages WHERE id = ?').run(messages[i])
        messages.splice(i, 1)
        parts.splice(i, 1)
      } else if (action < 9) {
        madeCells.push(
          (
            await cells.create({
              workspaceId: w.workspace,
              name: sentence(),
              description: sentence(),
              type: 'manual',
            })
          ).id,
        )
      } else if (madeCells.length > 0) {
        const i = rand(madeCells.length)
        if (rand(2)) await cells.update(madeCells[i]!, { description: sentence() })
        else {
          await cells.delete(madeCells[i]!)
          madeCells.splice(i, 1)
        }
      }
    }
    w.sqlite.exec("INSERT INTO search (search) VALUES ('integrity-check')")
    // Every source row with text has exactly one document, and there are no others.
    const docs = w.sqlite
      .prepare("SELECT count(*) FROM search WHERE kind IN ('text', 'reasoning')")
      .pluck()
      .get()
    const withText = w.sqlite
      .prepare("SELECT count(*) FROM parts WHERE text IS NOT NULL AND text <> ''")
      .pluck()
      .get()
    expect(docs).toBe(withText)
    // …filed under the kind of the part's current type.
    const misfiled = w.sqlite
      .prepare('SELECT count(*) FROM parts p JOIN search s ON s.rowid = p.rid * 8 + 3 WHERE s.kind <> p.type')
      .pluck()
      .get()
    expect(misfiled).toBe(0)
    expect(w.sqlite.prepare("SELECT count(*) FROM search WHERE kind = 'cell'").pluck().get()).toBe(
      w.sqlite.prepare('SELECT count(*) FROM cells').pluck().get(),
    )
  }, 60_000)
})

describe('search filters in the index', () => {
  it('read exactly the documents they select: one token per value, in no other column', async () => {
    const w = await world()
    twins(w.sqlite)
    const expression = matchExpression({
      text: 'twin',
      workspaceId: 'ws_TwinA',
      cellIds: ['cell_TwinA', 'cell_twina'],
      cellTypes: ['manual'],
      kinds: ['plan', 'text'],
    })!
    const tokens = [...expression.matchAll(/filters : \(([^)]*)\)/g)].flatMap((m) =>
      m[1]!.split(' OR ').map((quoted) => quoted.slice(1, -1)),
    )
    expect(tokens).toHaveLength(6)
    w.sqlite.exec('CREATE VIRTUAL TABLE temp.search_rows USING fts5vocab(main, search, row)')
    w.sqlite.exec('CREATE VIRTUAL TABLE temp.search_cols USING fts5vocab(main, search, col)')
    const column = { k: 'kind', c: 'cell_id', w: 'workspace_id', t: 'cell_type' } as const
    for (const token of tokens) {
      const value = Buffer.from(token.slice(1), 'hex').toString('utf8')
      const selected = w.sqlite
        .prepare(`SELECT count(*) FROM search WHERE ${column[token[0] as keyof typeof column]} = ?`)
        .pluck()
        .get(value)
      // Its doclist (the documents FTS5 reads for it) is exactly what the filter selects.
      expect(w.sqlite.prepare('SELECT doc FROM temp.search_rows WHERE term = ?').pluck().get(token)).toBe(
        selected,
      )
    }
    // No id fragment (`ws`, `cell`, `ses`, `01…`) is a token anywhere a filter looks.
    const filterColumnTerms = w.sqlite
      .prepare("SELECT term FROM temp.search_cols WHERE col <> 'title' AND col <> 'body' AND col <> 'kind'")
      .pluck()
      .all() as string[]
    expect(filterColumnTerms.filter((term) => !/^[kcwt][0-9a-f]+$/.test(term))).toEqual([])
    const search = new SearchService({ db: w.db })
    expect((await search.search({ text: 'twin', workspaceId: 'ws_TwinA', kinds: ['plan'] })).hits).toEqual([
      expect.objectContaining({ refId: 'pln_TwinA', cellId: 'cell_TwinA', workspaceId: 'ws_TwinA' }),
    ])
  })

  it('find documents written before migration 0002, once it rebuilt the index', async () => {
    const database = openDatabase<Database>(join(tempDir(), 'hive.db'))
    const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
    expect((await migrator.up({ to: '0001_initial_schema' })).ok).toBe(true)
    const [upper, lower] = twins(database.sqlite)
    expect((await migrator.up()).ok).toBe(true)
    const search = new SearchService({ db: database.db })
    const found = async (query: Omit<Parameters<SearchService['search']>[0], 'text'>) =>
      (await search.search({ text: 'twin', ...query })).hits.map((h) => h.refId).sort()
    expect(await found({ cellIds: [upper!.cell] })).toEqual(['cell_TwinA', 'pln_TwinA', 'prt_TwinA'])
    expect(await found({ workspaceId: lower!.workspace })).toEqual(['cell_twina', 'pln_twina', 'prt_twina'])
    expect(await found({ kinds: ['text'] })).toEqual(['prt_TwinA', 'prt_twina'])
    expect(await found({ cellTypes: ['planning'], kinds: ['plan'] })).toEqual(['pln_twina'])
    expect(database.sqlite.prepare('PRAGMA integrity_check').pluck().get()).toBe('ok')
    database.sqlite.exec("INSERT INTO search (search) VALUES ('integrity-check')")
    database.close()
  })
})
