import { join } from 'node:path'
import { openDatabase, type SqliteDatabase } from '@hive/sqlite'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { hiveMigrations, Migrator } from '../src/index.js'

const V1 = '0001_initial_schema'
const V2 = '0002_exact_search_index'
const hex = (value: string) => Buffer.from(value, 'utf8').toString('hex')

/** A Hive database migrated up to `to` (all migrations by default). */
async function database(to?: string): Promise<{ database: SqliteDatabase; migrator: Migrator }> {
  const database = openDatabase(join(tempDir(), 'hive.db'))
  const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
  const result = await migrator.up(to === undefined ? {} : { to })
  expect(result.ok).toBe(true)
  return { database, migrator }
}

/**
 * The same rows under any schema version: two cells (and workspaces) whose ids differ only in
 * case, with a plan, parts of every sort (one with an empty text, one without) and an artifact.
 */
function seed(db: SqliteDatabase['sqlite']): void {
  const run = (statement: string, ...values: unknown[]) => db.prepare(statement).run(...values)
  for (const ws of ['ws_MiXed', 'ws_mixed'])
    run('INSERT INTO workspaces VALUES (?, ?, ?, 1, 1)', ws, ws, `/${ws}`)
  run(
    "INSERT INTO cells (id, workspace_id, name, description, type, status, created_at, updated_at) VALUES ('cell_ABC', 'ws_MiXed', 'Shared upper', 'the upper cell', 'implementation', 'active', 10, 10)",
  )
  run(
    "INSERT INTO cells (id, workspace_id, name, description, type, status, created_at, updated_at) VALUES ('cell_abc', 'ws_mixed', 'Shared lower', NULL, 'planning', 'active', 11, 11)",
  )
  for (const [session, cell] of [
    ['ses_1', 'cell_ABC'],
    ['ses_2', 'cell_abc'],
  ])
    run(
      "INSERT INTO sessions (id, cell_id, provider, mode, status, created_at, updated_at) VALUES (?, ?, 'opencode', 'build', 'active', 12, 12)",
      session,
      cell,
    )
  for (const [message, session] of [
    ['msg_1', 'ses_1'],
    ['msg_2', 'ses_2'],
  ])
    run(
      "INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES (?, ?, 0, 'assistant', 'completed', '{}', 13, 13)",
      message,
      session,
    )
  const part = (id: string, message: string, seq: number, type: string, text: string | null) =>
    run(
      "INSERT INTO parts (id, message_id, seq, type, data, text, created_at, updated_at) VALUES (?, ?, ?, ?, '{}', ?, 14, 14)",
      id,
      message,
      seq,
      type,
      text,
    )
  part('prt_1', 'msg_1', 0, 'text', 'shared words alpha')
  part('prt_2', 'msg_2', 0, 'reasoning', 'shared words beta')
  part('prt_3', 'msg_1', 1, 'step-start', 'shared words gamma')
  part('prt_4', 'msg_1', 2, 'text', '')
  part('prt_5', 'msg_2', 1, 'tool', null)
  part('prt_6', 'msg_2', 2, 'tool', 'shared tool output')
  run(
    "INSERT INTO plans (id, cell_id, version, content, status, created_at, updated_at) VALUES ('pln_1', 'cell_ABC', 1, 'shared plan', 'draft', 15, 15)",
  )
  run(`INSERT INTO blobs VALUES ('${'c'.repeat(64)}', 10, 10, 'raw', 16, NULL)`)
  run(
    `INSERT INTO artifacts (id, cell_id, session_id, type, name, content_type, blob_hash, size, stored_size, summary, created_at) VALUES ('art_1', 'cell_abc', 'ses_2', 'log', 'shared.log', 'text/plain', '${'c'.repeat(64)}', 10, 10, 'shared summary', 17)`,
  )
}

const VALUES = 'rowid, title, body, kind, cell_id, workspace_id, cell_type, session_id, ref_id, created_at'
const documents = (db: SqliteDatabase['sqlite'], columns = VALUES) =>
  db.prepare(`SELECT ${columns} FROM search ORDER BY rowid`).all() as Array<Record<string, unknown>>
const schema = (db: SqliteDatabase['sqlite']) =>
  db
    .prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name <> 'hive_migrations' ORDER BY type, name",
    )
    .all()
const refs = (db: SqliteDatabase['sqlite'], match: string) =>
  db.prepare('SELECT ref_id FROM search WHERE search MATCH ? ORDER BY rowid').pluck().all(match)

function expectIntact(db: SqliteDatabase['sqlite']): void {
  expect(db.prepare('PRAGMA integrity_check').pluck().all()).toEqual(['ok'])
  expect(() => db.exec("INSERT INTO search (search) VALUES ('integrity-check')")).not.toThrow()
}

describe('migration 0002_exact_search_index', () => {
  it('rebuilds the documents written under 0001 with the same values and exact filter tokens', async () => {
    const { database: d, migrator } = await database(V1)
    const db = d.sqlite
    seed(db)
    const before = documents(db)
    expect(before).toHaveLength(8) // 2 cells, 1 plan, the 4 parts with text, 1 artifact
    // Under 0001 a cell filter folds case: cell_ABC's filter finds cell_abc's documents too.
    expect(refs(db, 'shared AND cell_id : "cell_ABC"')).toContain('cell_abc')

    expect((await migrator.up()).ok).toBe(true)
    expect(documents(db)).toEqual(before)
    for (const doc of documents(db, 'kind, cell_id, workspace_id, cell_type, filters')) {
      expect(doc.filters).toBe(
        `k${hex(doc.kind as string)} c${hex(doc.cell_id as string)} w${hex(doc.workspace_id as string)} t${hex(doc.cell_type as string)}`,
      )
    }
    const upper = ['cell_ABC', 'prt_1', 'prt_3', 'pln_1']
    const lower = ['cell_abc', 'prt_2', 'prt_6', 'art_1']
    const found = (match: string) => refs(db, match).sort()
    expect(found(`shared AND filters : c${hex('cell_ABC')}`)).toEqual(upper.sort())
    expect(found(`shared AND filters : c${hex('cell_abc')}`)).toEqual(lower.sort())
    expect(found(`shared AND filters : w${hex('ws_MiXed')}`)).toEqual(upper.sort())
    expect(found(`shared AND filters : w${hex('ws_mixed')}`)).toEqual(lower.sort())
    expect(found(`shared AND filters : k${hex('other')}`)).toEqual(['prt_3'])
    expect(found(`shared AND filters : t${hex('planning')}`)).toEqual(lower.sort())
    expectIntact(db)
    d.close()
  })

  it('leaves no id fragments in the index: each filter token is in exactly the documents it selects', async () => {
    const vocabulary = (db: SqliteDatabase['sqlite']) => {
      db.exec('CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_terms USING fts5vocab(main, search, col)')
      return db.prepare('SELECT term, col, doc FROM temp.search_terms').all() as Array<{
        term: string
        col: string
        doc: number
      }>
    }
    // Under 0001, the id prefixes `ws` and `cell` are tokens of every document.
    const { database: old } = await database(V1)
    seed(old.sqlite)
    const total = documents(old.sqlite).length
    expect(vocabulary(old.sqlite)).toContainEqual({ term: 'cell', col: 'cell_id', doc: total })
    expect(vocabulary(old.sqlite)).toContainEqual({ term: 'ws', col: 'workspace_id', doc: total })
    old.close()

    const { database: d } = await database()
    const db = d.sqlite
    seed(db)
    const terms = vocabulary(db)
    expect(new Set(terms.map((t) => t.col))).toEqual(new Set(['title', 'body', 'kind', 'filters']))
    // `cell` is left only where it is a word: the kind of the 2 cells and one description.
    const common = terms.filter((t) => ['ws', 'cell', 'ses'].includes(t.term))
    expect(common.sort((a, b) => (a.col < b.col ? -1 : 1))).toEqual([
      { term: 'cell', col: 'body', doc: 1 },
      { term: 'cell', col: 'kind', doc: 2 },
    ])
    const filterTerms = terms.filter((t) => t.col === 'filters')
    expect(filterTerms).toHaveLength(2 + 2 + 2 + 7) // cells, workspaces, cell types, kinds
    const columnOf = { k: 'kind', c: 'cell_id', w: 'workspace_id', t: 'cell_type' } as const
    for (const { term, doc } of filterTerms) {
      expect(term).toMatch(/^[kcwt][0-9a-f]+$/)
      const column = columnOf[term[0] as keyof typeof columnOf]
      const value = Buffer.from(term.slice(1), 'hex').toString('utf8')
      // The token's doclist is exactly the documents with that value: no other column has it.
      const selected = db.prepare(`SELECT count(*) FROM search WHERE ${column} = ?`).pluck().get(value)
      expect({ term, value, doc }).toEqual({ term, value, doc: selected })
      expect(terms.filter((t) => t.term === term)).toHaveLength(1)
    }
    d.close()
  })

  it('goes down to exactly the schema and index of 0001, and up again', async () => {
    const fresh = await database(V1)
    seed(fresh.database.sqlite)
    const v1 = { schema: schema(fresh.database.sqlite), documents: documents(fresh.database.sqlite) }
    fresh.database.close()
    const latest = await database(V2)
    seed(latest.database.sqlite)
    const v2 = {
      schema: schema(latest.database.sqlite),
      documents: documents(latest.database.sqlite, `${VALUES}, filters`),
    }
    latest.database.close()

    // Data written under 0002's triggers, then down, then up.
    const { database: d, migrator } = await database(V2)
    const db = d.sqlite
    seed(db)
    const down = await migrator.down({ steps: 1 })
    expect(down.ok).toBe(true)
    expect(down.to).toBe(V1)
    expect(schema(db)).toEqual(v1.schema)
    expect(documents(db)).toEqual(v1.documents)
    expectIntact(db)
    // 0001's triggers are back: they keep the index of rows written now.
    db.prepare("UPDATE cells SET description = 'rewritten' WHERE id = 'cell_ABC'").run()
    expect(refs(db, 'rewritten AND cell_id : cell_ABC')).toEqual(['cell_ABC'])
    db.prepare("UPDATE cells SET description = 'the upper cell' WHERE id = 'cell_ABC'").run()

    expect((await migrator.up({ to: V2 })).ok).toBe(true)
    expect(schema(db)).toEqual(v2.schema)
    expect(documents(db, `${VALUES}, filters`)).toEqual(v2.documents)
    expectIntact(db)
    d.close()
  })
})
