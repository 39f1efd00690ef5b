import { join } from 'node:path'
import { openDatabase, type SqliteDatabase } from '@hive/sqlite'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { hiveMigrations, Migrator } from '../src/index.js'

const V2 = '0002_exact_search_index'
const V3 = '0003_transcript_artifacts'

async function database(to: string) {
  const database = openDatabase(join(tempDir(), 'hive.db'))
  const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
  expect((await migrator.up({ to })).ok).toBe(true)
  return { database, migrator, db: database.sqlite }
}

function seed(db: SqliteDatabase['sqlite']): void {
  db.exec(`
    INSERT INTO workspaces VALUES ('ws_1', 'ws', '/ws', 1, 1);
    INSERT INTO cells (id, workspace_id, name, type, status, created_at, updated_at) VALUES ('cell_1', 'ws_1', 'c', 'implementation', 'active', 1, 1);
    INSERT INTO sessions (id, cell_id, provider, mode, status, created_at, updated_at) VALUES ('ses_1', 'cell_1', 'opencode', 'build', 'active', 1, 1);
    INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES ('msg_1', 'ses_1', 0, 'assistant', 'completed', '{}', 1, 1);
    INSERT INTO blobs VALUES ('${'c'.repeat(64)}', 10, 10, 'raw', 1, NULL);
  `)
  for (const id of ['art_1', 'art_2', 'art_3'])
    db.prepare(
      `INSERT INTO artifacts (id, cell_id, session_id, message_id, type, name, content_type, blob_hash, size, stored_size, created_at) VALUES (?, 'cell_1', 'ses_1', 'msg_1', 'log', ?, 'text/plain', '${'c'.repeat(64)}', 10, 10, 1)`,
    ).run(id, id)
  db.exec(
    "INSERT INTO parts (id, message_id, seq, type, data, text, artifact_id, created_at, updated_at) VALUES ('prt_1', 'msg_1', 0, 'tool', '{}', 'out', 'art_1', 1, 1)",
  )
}

const schema = (db: SqliteDatabase['sqlite']) =>
  db
    .prepare("SELECT type, name, sql FROM sqlite_master WHERE name <> 'hive_migrations' ORDER BY type, name")
    .all()
const artifacts = (db: SqliteDatabase['sqlite']) =>
  db.prepare('SELECT id FROM artifacts ORDER BY id').pluck().all()

describe('migration 0003_transcript_artifacts', () => {
  it('deletes the artifact a part or message no longer names, or that went with its row', async () => {
    const { database: d, db } = await database(V3)
    seed(db)
    db.exec("UPDATE messages SET artifact_id = 'art_2' WHERE id = 'msg_1'")
    // Another artifact for the part: the old one goes; the same one again changes nothing.
    db.exec("UPDATE parts SET artifact_id = 'art_3' WHERE id = 'prt_1'")
    expect(artifacts(db)).toEqual(['art_2', 'art_3'])
    db.exec("UPDATE parts SET artifact_id = 'art_3', text = 'again' WHERE id = 'prt_1'")
    expect(artifacts(db)).toEqual(['art_2', 'art_3'])
    // The message's artifact goes when it names none; the part's when the part is deleted.
    db.exec("UPDATE messages SET artifact_id = NULL WHERE id = 'msg_1'")
    expect(artifacts(db)).toEqual(['art_3'])
    db.exec("DELETE FROM parts WHERE id = 'prt_1'")
    expect(artifacts(db)).toEqual([])
    expect(db.prepare('PRAGMA foreign_key_check').all()).toEqual([])
    d.close()
  })

  it('keeps data written before it, and goes down to exactly the schema of 0002', async () => {
    const before = await database(V2)
    const v2 = schema(before.db)
    before.database.close()
    const { database: d, db, migrator } = await database(V2)
    seed(db)
    expect((await migrator.up({ to: V3 })).ok).toBe(true)
    expect(db.prepare("SELECT artifact_id FROM parts WHERE id = 'prt_1'").pluck().get()).toBe('art_1')
    expect(db.prepare("SELECT artifact_id FROM messages WHERE id = 'msg_1'").pluck().get()).toBeNull()
    const down = await migrator.down({ steps: 1 })
    expect(down.ok).toBe(true)
    expect(down.to).toBe(V2)
    expect(schema(db)).toEqual(v2)
    expect(db.prepare('PRAGMA integrity_check').pluck().all()).toEqual(['ok'])
    expect((await migrator.up()).ok).toBe(true)
    d.close()
  })
})
