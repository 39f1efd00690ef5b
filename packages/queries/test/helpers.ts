import { join } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { hiveMigrations, Migrator } from '@hive/migrations'
import { type Database, ids } from '@hive/schema'
import { openDatabase } from '@hive/sqlite'
import { tempDir } from '@hive/testing'

export type World = Awaited<ReturnType<typeof world>>

/** A migrated Hive database and a blob store in a temp dir, with one workspace, two cells, a session and a message. */
export async function world() {
  const dir = tempDir()
  const database = openDatabase<Database>(join(dir, 'hive.db'))
  const migrated = await new Migrator({ dialect: database.dialect, source: hiveMigrations }).up()
  if (!migrated.ok) throw migrated.error
  const blobs = new BlobStore({ root: join(dir, 'blobs'), frameSize: 64 * 1024 })
  const now = Date.now()
  const workspace = ids.workspace()
  const cell = ids.cell()
  const otherCell = ids.cell()
  const session = ids.session()
  const otherSession = ids.session()
  const message = ids.message()
  const db = database.sqlite
  db.prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)').run(workspace, 'hive', '/src/hive', now, now)
  const insertCell = db.prepare(
    "INSERT INTO cells (id, workspace_id, name, type, status, created_at, updated_at) VALUES (?, ?, ?, 'implementation', 'active', ?, ?)",
  )
  insertCell.run(cell, workspace, 'Fix login', now, now)
  insertCell.run(otherCell, workspace, 'Other', now, now)
  const insertSession = db.prepare(
    "INSERT INTO sessions (id, cell_id, provider, mode, status, created_at, updated_at) VALUES (?, ?, 'opencode', 'build', 'active', ?, ?)",
  )
  insertSession.run(session, cell, now, now)
  insertSession.run(otherSession, otherCell, now, now)
  db.prepare(
    "INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES (?, ?, 0, 'assistant', 'completed', '{}', ?, ?)",
  ).run(message, session, now, now)
  return {
    dir,
    database,
    db: database.db,
    sqlite: db,
    blobs,
    workspace,
    cell,
    otherCell,
    session,
    otherSession,
    message,
  }
}
