import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { openDatabase, type SqliteDatabase } from '@hive/sqlite'
import type { OpencodeProject, OpencodeSessionEntry, OpencodeSource } from './opencode-source.js'
import type { RawTranscript } from './opencode-transcript.js'

export interface SqliteReaderConfig {
  /** OpenCode's database file (`~/.local/share/opencode/opencode.db`). */
  readonly file: string
  /** Where the private copy goes (default: the OS temp directory). */
  readonly tempDir?: string
}

type Row = Record<string, unknown>

/**
 * Reads OpenCode's SQLite store (OpenCode ≥ 1.2, `opencode.db`: tables `session`, `message`,
 * `part`, `project`), rebuilding the objects as OpenCode does: `{ ...data, id, sessionID }` for a
 * message, `{ ...data, id, sessionID, messageID }` for a part, the `Session` from its columns.
 * Messages come by `(time_created, id)`, parts by id. Columns added by later OpenCode releases
 * are read only when the table has them.
 *
 * The database is read from a private copy (with its `-wal`), opened read-only: opening a WAL
 * database in place, even read-only, makes SQLite create `-wal`/`-shm` files next to it, and
 * nothing may be written where OpenCode keeps its data. The copy is taken again if the files
 * changed while it was made (OpenCode running), and removed on {@link SqliteReader.close}.
 *
 * @example
 * ```ts
 * const source = SqliteReader.open({ file: '~/.local/share/opencode/opencode.db' })
 * try {
 *   for (const entry of source.sessions()) console.log(entry.title)
 * } finally {
 *   source.close()
 * }
 * ```
 */
export class SqliteReader implements OpencodeSource {
  readonly format = 'sqlite' as const
  readonly path: string
  readonly #database: SqliteDatabase
  readonly #copyDir: string
  readonly #sessionColumns: ReadonlySet<string>
  readonly #tables: ReadonlySet<string>

  private constructor(path: string, database: SqliteDatabase, copyDir: string) {
    this.path = path
    this.#database = database
    this.#copyDir = copyDir
    this.#tables = new Set(
      database.sqlite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .pluck()
        .all() as string[],
    )
    const missing = ['session', 'message', 'part'].filter((table) => !this.#tables.has(table))
    if (missing.length > 0) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `${path} is not an OpenCode database: it has no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}`,
        { value: path },
      )
    }
    this.#sessionColumns = new Set(
      (database.sqlite.prepare("SELECT name FROM pragma_table_info('session')").pluck().all() as string[]) ??
        [],
    )
  }

  /** Copies the database privately and opens the copy read-only. */
  static open(config: SqliteReaderConfig): SqliteReader {
    const copyDir = mkdtempSync(join(config.tempDir ?? tmpdir(), 'hive-opencode-'))
    let database: SqliteDatabase | undefined
    try {
      const copy = join(copyDir, 'opencode.db')
      privateCopy(config.file, copy)
      database = openDatabase(copy, { readonly: true, create: false })
      return new SqliteReader(config.file, database, copyDir)
    } catch (error) {
      database?.close()
      rmSync(copyDir, { recursive: true, force: true })
      if (isHiveStorageError(error, 'NOT_A_DATABASE', 'DATABASE_CORRUPT')) {
        throw new HiveStorageError(
          'INVALID_INPUT',
          `${config.file} is not an OpenCode database (${error.message})`,
          {
            value: config.file,
            cause: error,
          },
        )
      }
      throw error
    }
  }

  projects(): ReadonlyMap<string, OpencodeProject> {
    const projects = new Map<string, OpencodeProject>()
    if (!this.#tables.has('project')) return projects
    const columns = new Set(
      this.#database.sqlite
        .prepare("SELECT name FROM pragma_table_info('project')")
        .pluck()
        .all() as string[],
    )
    const rows = this.#database.sqlite
      .prepare(`SELECT id, worktree, ${columns.has('name') ? 'name' : 'NULL AS name'} FROM project`)
      .all() as Row[]
    for (const row of rows) {
      const id = String(row.id)
      projects.set(id, {
        id,
        worktree: typeof row.worktree === 'string' ? row.worktree : null,
        name: typeof row.name === 'string' ? row.name : null,
      })
    }
    return projects
  }

  sessions(): readonly OpencodeSessionEntry[] {
    const rows = this.#database.sqlite
      .prepare(
        'SELECT id, project_id, parent_id, title, directory, time_created FROM session ORDER BY time_created, id',
      )
      .all() as Row[]
    return rows.map((row) => ({
      id: String(row.id),
      projectId: typeof row.project_id === 'string' ? row.project_id : null,
      parentId: typeof row.parent_id === 'string' ? row.parent_id : null,
      title: typeof row.title === 'string' ? row.title : null,
      directory: typeof row.directory === 'string' ? row.directory : null,
      createdAt: typeof row.time_created === 'number' ? row.time_created : null,
    }))
  }

  read(sessionId: string): RawTranscript {
    const sqlite = this.#database.sqlite
    const row = sqlite.prepare('SELECT * FROM session WHERE id = ?').get(sessionId) as Row | undefined
    if (!row) {
      throw new HiveStorageError('NOT_FOUND', `there is no OpenCode session ${sessionId} in ${this.path}`, {
        value: sessionId,
      })
    }
    const session = this.#session(row)
    const messages = sqlite
      .prepare('SELECT id, data FROM message WHERE session_id = ? ORDER BY time_created, id')
      .all(sessionId) as Array<{ id: string; data: unknown }>
    const parts = sqlite
      .prepare(
        'SELECT id, message_id, data FROM part WHERE message_id IN (SELECT id FROM message WHERE session_id = ?) ORDER BY message_id, id',
      )
      .all(sessionId) as Array<{ id: string; message_id: string; data: unknown }>
    const byMessage = new Map<string, unknown[]>()
    for (const part of parts) {
      const object = {
        ...dataObject(part.data, { sessionID: sessionId, messageID: part.message_id, partID: part.id }),
        id: part.id,
        sessionID: sessionId,
        messageID: part.message_id,
      }
      const list = byMessage.get(part.message_id)
      if (list) list.push(object)
      else byMessage.set(part.message_id, [object])
    }
    return {
      session,
      messages: messages.map((message) => ({
        info: {
          ...dataObject(message.data, { sessionID: sessionId, messageID: message.id }),
          id: message.id,
          sessionID: sessionId,
        },
        parts: byMessage.get(message.id) ?? [],
      })),
    }
  }

  close(): void {
    this.#database.close()
    rmSync(this.#copyDir, { recursive: true, force: true })
  }

  /** OpenCode's `Session` from its row (as its `fromRow` builds it; absent stays absent). */
  #session(row: Row): Record<string, unknown> {
    const where = { sessionID: String(row.id) }
    const has = (column: string) =>
      this.#sessionColumns.has(column) && row[column] !== null && row[column] !== undefined
    const json = (column: string) => (has(column) ? jsonColumn(row[column], column, where) : undefined)
    const session: Record<string, unknown> = {
      id: row.id,
      slug: row.slug,
      projectID: row.project_id,
    }
    if (has('workspace_id')) session.workspaceID = row.workspace_id
    session.directory = row.directory
    if (has('path')) session.path = row.path
    if (has('parent_id')) session.parentID = row.parent_id
    session.title = row.title
    session.version = row.version
    if (has('summary_additions') || has('summary_deletions') || has('summary_files')) {
      const summary: Record<string, unknown> = {
        additions: row.summary_additions ?? 0,
        deletions: row.summary_deletions ?? 0,
        files: row.summary_files ?? 0,
      }
      if (has('summary_diffs')) summary.diffs = json('summary_diffs')
      session.summary = summary
    }
    if (has('share_url')) session.share = { url: row.share_url }
    if (has('revert')) session.revert = json('revert')
    if (has('permission')) session.permission = json('permission')
    if (has('agent')) session.agent = row.agent
    if (has('model')) session.model = json('model')
    if (this.#sessionColumns.has('cost')) {
      session.cost = row.cost ?? 0
      session.tokens = {
        input: row.tokens_input ?? 0,
        output: row.tokens_output ?? 0,
        reasoning: row.tokens_reasoning ?? 0,
        cache: { read: row.tokens_cache_read ?? 0, write: row.tokens_cache_write ?? 0 },
      }
    }
    if (has('metadata')) session.metadata = json('metadata')
    const time: Record<string, unknown> = { created: row.time_created, updated: row.time_updated }
    if (has('time_compacting')) time.compacting = row.time_compacting
    if (has('time_archived')) time.archived = row.time_archived
    session.time = time
    return session
  }
}

/** A JSON `data` column: an object, or a typed error naming the row. */
function dataObject(data: unknown, where: Record<string, string>): Record<string, unknown> {
  const value = jsonColumn(data, 'data', where)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HiveStorageError('INVALID_INPUT', `${describe(where)}: data is not a JSON object`, {
      value: where,
    })
  }
  return value as Record<string, unknown>
}

function jsonColumn(text: unknown, column: string, where: Record<string, string>): unknown {
  if (typeof text !== 'string') {
    throw new HiveStorageError('INVALID_INPUT', `${describe(where)}: ${column} is not JSON text`, {
      value: where,
    })
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `${describe(where)}: ${column} is not valid JSON: ${(error as Error).message}`,
      { value: where, cause: error },
    )
  }
}

function describe(where: Record<string, string>): string {
  if (where.partID) return `part ${where.partID} of message ${where.messageID}`
  if (where.messageID) return `message ${where.messageID} of session ${where.sessionID}`
  return `session ${where.sessionID}`
}

/**
 * Copies the database and its WAL, again if either changed meanwhile (a checkpoint between the
 * two copies would pair an old database with a newer WAL). SQLite recovers the copied WAL up to
 * its last whole transaction.
 */
function privateCopy(file: string, copy: string): void {
  const state = () => [fileState(file), fileState(`${file}-wal`)].join('|')
  for (let attempt = 1; ; attempt++) {
    const before = state()
    try {
      copyFileSync(file, copy)
      rmSync(`${copy}-wal`, { force: true })
      if (fileState(`${file}-wal`) !== 'none') copyFileSync(`${file}-wal`, `${copy}-wal`)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && fileState(file) === 'none') {
        throw new HiveStorageError('NOT_FOUND', `${file} does not exist`, { value: file, cause: error })
      }
      if (code === 'ENOENT' && attempt < 5) continue // the WAL went away as it was checkpointed
      throw new HiveStorageError('IO_ERROR', `cannot copy ${file}: ${(error as Error).message}`, {
        value: file,
        cause: error,
      })
    }
    if (state() === before || attempt >= 5) return
  }
}

function fileState(path: string): string {
  try {
    const stat = statSync(path)
    return `${stat.size}:${stat.mtimeMs}`
  } catch {
    return 'none'
  }
}
