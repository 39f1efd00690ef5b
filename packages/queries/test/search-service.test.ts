import { ids } from '@hive/schema'
import { describe, expect, it } from 'vitest'
import { CellService, PlanService, SearchService, TranscriptService, userQuery } from '../src/index.js'
import { world } from './helpers.js'

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
    do {
      const page = await search.search({ text: 'flaky OR login', limit: 1, ...(cursor ? { cursor } : {}) })
      pages.push(...page.hits.map((h) => h.refId))
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    expect(new Set(pages).size).toBe(pages.length)
  })

  it('never matches ids, kinds or cell types through the user text', async () => {
    const { search } = await corpus()
    for (const text of ['cell', 'ws', 'implementation', 'text', 'reasoning', 'msg', 'prt']) {
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
    expect(w.sqlite.prepare("SELECT count(*) FROM search WHERE kind = 'cell'").pluck().get()).toBe(
      w.sqlite.prepare('SELECT count(*) FROM cells').pluck().get(),
    )
  }, 60_000)
})
