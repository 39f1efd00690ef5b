import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ids, jsonTextSchema, TABLES } from '@hive/schema'
import { openDatabase, quickCheck } from '@hive/sqlite'
import { tempDir } from '@hive/testing'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { checksumSource, HIVE_MIGRATION_NAMES, hiveMigrations, Migrator } from '../src/index.js'

/** The token of a filter value in the search index's `filters` column (migration 0002). */
const filterToken = (field: string, value: string) => `${field}${Buffer.from(value, 'utf8').toString('hex')}`

async function migrated() {
  const database = openDatabase(join(tempDir(), 'hive.db'))
  const result = await new Migrator({ dialect: database.dialect, source: hiveMigrations }).up()
  expect(result.ok).toBe(true)
  return database
}

/** What SQLite should report for a zod column: declared type and NOT NULL. */
function expected(column: z.ZodType): { type: string; notnull: number; json: boolean } {
  let inner = column as z.ZodType & { unwrap?: () => z.ZodType }
  let nullable = false
  if (inner.def.type === 'nullable') {
    nullable = true
    inner = (inner as unknown as { unwrap: () => z.ZodType }).unwrap() as typeof inner
  }
  const json = inner === (jsonTextSchema as z.ZodType)
  const kind = inner.def.type
  const type =
    kind === 'string' || kind === 'enum' || json
      ? 'TEXT'
      : kind === 'number'
        ? (inner as unknown as z.ZodNumber).isInt
          ? 'INTEGER'
          : 'REAL'
        : `unmapped ${kind}`
  return { type, notnull: nullable ? 0 : 1, json }
}

describe('the schema the Hive migrations create', () => {
  it('has exactly the tables of @hive/schema', async () => {
    const database = await migrated()
    const tables = database.sqlite
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'hive_migrations' AND name NOT LIKE 'search\\_%' ESCAPE '\\' ORDER BY name",
      )
      .pluck()
      .all()
    expect(tables).toEqual(Object.keys(TABLES).sort())
    database.close()
  })

  it('matches every row schema column by column: name, order, type, NOT NULL, primary key', async () => {
    const database = await migrated()
    for (const [table, definition] of Object.entries(TABLES)) {
      const info = database.sqlite.prepare(`PRAGMA table_info(${table})`).all() as Array<{
        name: string
        type: string
        notnull: number
        pk: number
      }>
      const shape = definition.row.shape as Record<string, z.ZodType>
      expect(
        info.map((column) => column.name),
        table,
      ).toEqual(Object.keys(shape))
      if (definition.virtual === 'fts5') continue
      for (const column of info) {
        const want = expected(shape[column.name] as z.ZodType)
        // `INTEGER PRIMARY KEY` is the rowid: never null, though table_info says notnull 0.
        const notnull = column.pk > 0 && column.type === 'INTEGER' ? 1 : column.notnull
        expect({ column: `${table}.${column.name}`, type: column.type, notnull }).toEqual({
          column: `${table}.${column.name}`,
          type: want.type,
          notnull: want.notnull,
        })
      }
      const primaryKey = info
        .filter((column) => column.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((column) => column.name)
      expect(primaryKey, table).toEqual([...definition.primaryKey])
      for (const generated of definition.generated) {
        expect(info.find((column) => column.name === generated)).toMatchObject({ type: 'INTEGER', pk: 1 })
      }
    }
    database.close()
  })

  it('checks enum columns against exactly the enum values, and JSON columns for valid JSON', async () => {
    const database = await migrated()
    let enums = 0
    let jsons = 0
    for (const [table, definition] of Object.entries(TABLES)) {
      if (definition.virtual) continue
      const ddl = database.sqlite
        .prepare('SELECT sql FROM sqlite_master WHERE name = ?')
        .pluck()
        .get(table) as string
      for (const [name, column] of Object.entries(definition.row.shape as Record<string, z.ZodType>)) {
        const inner =
          column.def.type === 'nullable'
            ? (column as unknown as { unwrap: () => z.ZodType }).unwrap()
            : column
        if (inner.def.type === 'enum') {
          const match = ddl.match(new RegExp(`CHECK \\(${name} IN \\(([^)]*)\\)\\)`))
          expect(match, `${table}.${name} has no CHECK`).not.toBeNull()
          const allowed = (match?.[1] ?? '').split(',').map((value) => value.trim().replace(/^'|'$/g, ''))
          expect(allowed.sort(), `${table}.${name}`).toEqual(
            [...(inner as unknown as z.ZodEnum).options].sort(),
          )
          enums += 1
        }
        if (expected(column).json) {
          expect(ddl, `${table}.${name}`).toMatch(
            new RegExp(`CHECK \\((${name} IS NULL OR )?json_valid\\(${name}\\)\\)`),
          )
          jsons += 1
        }
      }
    }
    expect(enums).toBeGreaterThanOrEqual(12)
    expect(jsons).toBeGreaterThanOrEqual(8)
    database.close()
  })

  it('is STRICT, so a value of the wrong type is refused', async () => {
    const database = await migrated()
    const strict = database.sqlite
      .prepare(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND strict = 0 AND type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'search%'",
      )
      .pluck()
      .all()
    expect(strict).toEqual([])
    expect(() =>
      database.sqlite
        .prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)')
        .run('ws_x', 'w', '/w', 'yesterday', 1),
    ).toThrow(/cannot store TEXT value in INTEGER column/)
    database.close()
  })

  it('indexes every foreign key, so cascades and joins do not scan', async () => {
    const database = await migrated()
    const unindexed: string[] = []
    for (const table of Object.keys(TABLES)) {
      const keys = database.sqlite.prepare(`PRAGMA foreign_key_list(${table})`).all() as Array<{
        from: string
      }>
      const indexes = database.sqlite.prepare(`PRAGMA index_list(${table})`).all() as Array<{ name: string }>
      const leading = indexes.map(
        (index) =>
          (
            database.sqlite.prepare(`PRAGMA index_info(${JSON.stringify(index.name)})`).all() as Array<{
              name: string
              seqno: number
            }>
          ).find((c) => c.seqno === 0)?.name,
      )
      const pk = (
        database.sqlite.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; pk: number }>
      ).find((c) => c.pk === 1)?.name
      for (const key of keys)
        if (!leading.includes(key.from) && pk !== key.from) unindexed.push(`${table}.${key.from}`)
    }
    expect(unindexed).toEqual([])
    database.close()
  })
})

describe('the search index', () => {
  async function seeded() {
    const database = await migrated()
    const now = Date.now()
    const workspace = ids.workspace()
    const cell = ids.cell()
    const session = ids.session()
    const message = ids.message()
    const db = database.sqlite
    db.prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)').run(workspace, 'w', '/w', now, now)
    db.prepare(
      "INSERT INTO cells (id, workspace_id, name, description, type, status, created_at, updated_at) VALUES (?, ?, 'Fix the parser', 'tokenizer crashes on emoji', 'implementation', 'draft', ?, ?)",
    ).run(cell, workspace, now, now)
    db.prepare(
      "INSERT INTO sessions (id, cell_id, provider, mode, status, created_at, updated_at) VALUES (?, ?, 'opencode', 'build', 'active', ?, ?)",
    ).run(session, cell, now, now)
    db.prepare(
      "INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES (?, ?, 0, 'assistant', 'completed', '{}', ?, ?)",
    ).run(message, session, now, now)
    return { database, db, workspace, cell, session, message, now }
  }
  const docs = (db: ReturnType<typeof openDatabase>['sqlite'], query: string) =>
    db.prepare('SELECT kind, ref_id, cell_id FROM search WHERE search MATCH ? ORDER BY rank').all(query)

  it('follows inserts, updates and deletes of cells, plans and parts through triggers', async () => {
    const { database, db, cell, message, now } = await seeded()
    expect(docs(db, 'emoji')).toEqual([{ kind: 'cell', ref_id: cell, cell_id: cell }])

    const part = ids.part()
    db.prepare(
      "INSERT INTO parts (id, message_id, seq, type, data, text, created_at, updated_at) VALUES (?, ?, 0, 'text', '{}', 'the lexer needs a rewrite', ?, ?)",
    ).run(part, message, now, now)
    expect(docs(db, 'lexer')).toEqual([{ kind: 'text', ref_id: part, cell_id: cell }])
    db.prepare("UPDATE parts SET text = 'the scanner needs a rewrite' WHERE id = ?").run(part)
    expect(docs(db, 'lexer')).toEqual([])
    expect(docs(db, 'scanner')).toHaveLength(1)

    const plan = ids.plan()
    db.prepare(
      "INSERT INTO plans (id, cell_id, version, content, status, created_at, updated_at) VALUES (?, ?, 1, 'step one: replace the scanner', 'draft', ?, ?)",
    ).run(plan, cell, now, now)
    expect(
      docs(db, 'scanner')
        .map((d) => (d as { kind: string }).kind)
        .sort(),
    ).toEqual(['plan', 'text'])
    db.prepare("UPDATE cells SET description = 'now about unicode' WHERE id = ?").run(cell)
    expect(docs(db, 'emoji')).toEqual([])
    expect(docs(db, 'unicode')).toHaveLength(1)

    // Deleting the cell cascades to sessions, messages, parts and plans; their documents go too.
    db.prepare('DELETE FROM cells WHERE id = ?').run(cell)
    expect(db.prepare('SELECT count(*) FROM search').pluck().get()).toBe(0)
    db.exec("INSERT INTO search (search) VALUES ('integrity-check')")
    expect(quickCheck(db).ok).toBe(true)
    database.close()
  })

  it('stays exact through REPLACE upserts and reused row ids', async () => {
    const { database, db, workspace, cell, message, now } = await seeded()
    const part = ids.part()
    const upsert = db.prepare(
      "INSERT OR REPLACE INTO parts (id, message_id, seq, type, data, text, created_at, updated_at) VALUES (?, ?, 0, 'text', '{}', ?, ?, ?)",
    )
    upsert.run(part, message, 'first words', now, now)
    upsert.run(part, message, 'second words', now, now)
    expect(docs(db, 'first')).toEqual([])
    expect(docs(db, 'second')).toHaveLength(1)
    // Delete the newest cell and make another: it reuses the rid, and must get its own document.
    const extra = ids.cell()
    const insertCell = db.prepare(
      "INSERT INTO cells (id, workspace_id, name, type, status, created_at, updated_at) VALUES (?, ?, ?, 'manual', 'draft', ?, ?)",
    )
    insertCell.run(extra, workspace, 'temporary cell', now, now)
    db.prepare('DELETE FROM cells WHERE id = ?').run(extra)
    const again = ids.cell()
    insertCell.run(again, workspace, 'replacement cell', now, now)
    expect(docs(db, 'temporary')).toEqual([])
    expect(docs(db, 'replacement')).toEqual([{ kind: 'cell', ref_id: again, cell_id: again }])
    expect(docs(db, 'emoji')).toEqual([{ kind: 'cell', ref_id: cell, cell_id: cell }])
    db.exec("INSERT INTO search (search) VALUES ('integrity-check')")
    database.close()
  })

  it('follows an artifact whose session goes, and a plan whose version changes', async () => {
    const { database, db, cell, session, now } = await seeded()
    const hash = 'a'.repeat(64)
    db.prepare("INSERT INTO blobs VALUES (?, 10, 10, 'raw', ?, NULL)").run(hash, now)
    const artifact = ids.artifact()
    db.prepare(
      "INSERT INTO artifacts (id, cell_id, session_id, type, name, content_type, blob_hash, size, stored_size, summary, created_at) VALUES (?, ?, ?, 'log', 'build.log', 'text/plain', ?, 10, 10, 'compiler warnings', ?)",
    ).run(artifact, cell, session, hash, now)
    const sessionOf = () => db.prepare('SELECT session_id FROM search WHERE ref_id = ?').pluck().get(artifact)
    expect(sessionOf()).toBe(session)
    db.prepare('DELETE FROM sessions WHERE id = ?').run(session)
    expect(sessionOf()).toBeNull()
    const plan = ids.plan()
    db.prepare(
      "INSERT INTO plans (id, cell_id, version, content, status, created_at, updated_at) VALUES (?, ?, 1, 'do it', 'draft', ?, ?)",
    ).run(plan, cell, now, now)
    db.prepare('UPDATE plans SET version = 2 WHERE id = ?').run(plan)
    expect(db.prepare('SELECT title FROM search WHERE ref_id = ?').pluck().get(plan)).toBe('Plan v2')
    database.close()
  })

  it('files a part whose type changes under its new kind (same text)', async () => {
    const { database, db, message, now } = await seeded()
    const part = ids.part()
    db.prepare(
      "INSERT INTO parts (id, message_id, seq, type, data, text, created_at, updated_at) VALUES (?, ?, 0, 'text', '{}', 'thinking about tokens', ?, ?)",
    ).run(part, message, now, now)
    const kinds = (kind: string) => docs(db, `body : tokens AND filters : ${filterToken('k', kind)}`)
    expect(kinds('text')).toHaveLength(1)
    db.prepare("UPDATE parts SET type = 'reasoning' WHERE id = ?").run(part)
    expect(kinds('text')).toEqual([])
    expect(kinds('reasoning')).toEqual([expect.objectContaining({ kind: 'reasoning', ref_id: part })])
    db.prepare("UPDATE parts SET type = 'step-start' WHERE id = ?").run(part)
    expect(kinds('other')).toEqual([expect.objectContaining({ kind: 'other', ref_id: part })])
    expect(kinds('reasoning')).toEqual([])
    db.exec("INSERT INTO search (search) VALUES ('integrity-check')")
    database.close()
  })

  it('follows every column a document is made of, and parts whose message or session moves', async () => {
    const { database, db, workspace, cell, message, now } = await seeded()
    const other = ids.cell()
    const otherSession = ids.session()
    const otherMessage = ids.message()
    db.prepare(
      "INSERT INTO cells (id, workspace_id, name, type, status, created_at, updated_at) VALUES (?, ?, 'Other', 'planning', 'draft', ?, ?)",
    ).run(other, workspace, now, now)
    db.prepare(
      "INSERT INTO sessions (id, cell_id, provider, mode, status, created_at, updated_at) VALUES (?, ?, 'opencode', 'plan', 'active', ?, ?)",
    ).run(otherSession, other, now, now)
    db.prepare(
      "INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES (?, ?, 0, 'user', 'completed', '{}', ?, ?)",
    ).run(otherMessage, otherSession, now, now)
    const [moved, stays] = [ids.part(), ids.part()]
    const insertPart = db.prepare(
      "INSERT INTO parts (id, message_id, seq, type, data, text, created_at, updated_at) VALUES (?, ?, ?, 'text', '{}', ?, ?, ?)",
    )
    insertPart.run(moved, message, 0, 'moving words', now, now)
    insertPart.run(stays, message, 1, 'staying words', now, now)
    const plan = ids.plan()
    db.prepare(
      "INSERT INTO plans (id, cell_id, version, content, status, created_at, updated_at) VALUES (?, ?, 1, 'plan words', 'draft', ?, ?)",
    ).run(plan, cell, now, now)
    const hash = 'b'.repeat(64)
    db.prepare("INSERT INTO blobs VALUES (?, 10, 10, 'raw', ?, NULL)").run(hash, now)
    const artifact = ids.artifact()
    db.prepare(
      "INSERT INTO artifacts (id, cell_id, type, name, content_type, blob_hash, size, stored_size, summary, created_at) VALUES (?, ?, 'log', 'build.log', 'text/plain', ?, 10, 10, 'artifact words', ?)",
    ).run(artifact, cell, hash, now)
    const doc = (ref: string) =>
      db.prepare('SELECT cell_id, cell_type, session_id, created_at FROM search WHERE ref_id = ?').get(ref)

    db.prepare('UPDATE parts SET message_id = ?, seq = 5 WHERE id = ?').run(otherMessage, moved)
    expect(doc(moved)).toMatchObject({ cell_id: other, cell_type: 'planning', session_id: otherSession })
    db.prepare('UPDATE messages SET session_id = ?, seq = 1 WHERE id = ?').run(otherSession, message)
    expect(doc(stays)).toMatchObject({ cell_id: other, session_id: otherSession })
    db.prepare('UPDATE sessions SET cell_id = ? WHERE id = ?').run(cell, otherSession)
    expect(doc(moved)).toMatchObject({ cell_id: cell, cell_type: 'implementation', session_id: otherSession })
    expect(doc(stays)).toMatchObject({ cell_id: cell, session_id: otherSession })
    db.prepare('UPDATE plans SET cell_id = ?, created_at = 7 WHERE id = ?').run(other, plan)
    expect(doc(plan)).toMatchObject({ cell_id: other, created_at: 7 })
    db.prepare('UPDATE artifacts SET cell_id = ? WHERE id = ?').run(other, artifact)
    expect(doc(artifact)).toMatchObject({ cell_id: other })
    db.prepare('UPDATE parts SET created_at = 8 WHERE id = ?').run(stays)
    expect(doc(stays)).toMatchObject({ created_at: 8 })
    db.prepare('UPDATE cells SET created_at = 9 WHERE id = ?').run(other)
    expect(doc(other)).toMatchObject({ created_at: 9 })
    const renamed = ids.part()
    db.prepare('UPDATE parts SET id = ?, rid = rid + 100 WHERE id = ?').run(renamed, stays)
    expect(doc(stays)).toBeUndefined()
    expect(doc(renamed)).toMatchObject({ cell_id: cell })

    // The index the triggers kept is the one a rebuild from the source tables makes.
    const all = () => db.prepare('SELECT rowid, * FROM search ORDER BY rowid').all()
    const kept = all()
    const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
    expect((await migrator.down({ steps: 1 })).ok).toBe(true)
    expect((await migrator.up()).ok).toBe(true)
    expect(all()).toEqual(kept)
    expect(kept).toHaveLength(6)
    database.close()
  })

  it("refuses to change a cell's workspace or type", async () => {
    const { database, db, cell } = await seeded()
    expect(() => db.prepare("UPDATE cells SET type = 'planning' WHERE id = ?").run(cell)).toThrow(
      /cannot change/,
    )
    expect(() => db.prepare("UPDATE cells SET status = 'provisioning' WHERE id = ?").run(cell)).not.toThrow()
    database.close()
  })
})

describe('hiveMigrations', () => {
  it('lists every file of src/migrations, in order, with the checksum of its TypeScript source', async () => {
    const folder = new URL('../src/migrations/', import.meta.url).pathname
    const files = readdirSync(folder)
      .filter((file) => file.endsWith('.ts'))
      .map((file) => file.slice(0, -3))
      .sort()
    expect(HIVE_MIGRATION_NAMES).toEqual(files)
    const migrations = await hiveMigrations.getMigrations()
    expect(migrations.map((m) => m.name)).toEqual(files)
    for (const migration of migrations) {
      expect(migration.checksum).toBe(
        checksumSource(readFileSync(join(folder, `${migration.name}.ts`), 'utf8')),
      )
    }
  })

  it('reverts to an empty database', async () => {
    const database = await migrated()
    const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
    const result = await migrator.down({ steps: HIVE_MIGRATION_NAMES.length })
    expect(result.ok).toBe(true)
    const left = await sql<{
      name: string
    }>`SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`.execute(database.db)
    expect(left.rows.map((row) => row.name)).toEqual(['hive_migrations'])
    expect((await migrator.up()).ok).toBe(true)
    database.close()
  })
})
