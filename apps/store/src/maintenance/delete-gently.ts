import { HiveStorageError } from '@hive/errors'
import type { HiveStore } from '../store.js'

/**
 * Rows deleted per write transaction: each holds the write lock (and, better-sqlite3 being
 * synchronous, the event loop) for a few milliseconds only: a message takes its parts and their
 * search documents along.
 */
export const DELETE_BATCH = 100

/** What deleting sessions or cells removed. */
export interface DeletedRows {
  sessions: number
  messages: number
  artifacts: number
  /** Sessions left alone (part of them, when it happened between batches): resumed meanwhile. */
  skipped: Array<{ id: string; reason: string }>
}

/**
 * Deletes sessions with their sub-agent sessions, messages and parts (and, through the schema's
 * triggers, their search documents and the artifacts their rows own), oldest messages first, a
 * batch per write transaction, so that a session of a million messages never holds the write
 * lock for long. With `onlyIdle`, each batch first checks, in its transaction, that the session
 * is not active and got no new message since the deletion began: a session resumed meanwhile
 * is left alone (with its newest messages) and reported as skipped. A session that is gone
 * already is skipped. The store's caches are not told: callers invalidate once at the end.
 */
export async function deleteSessionsGently(
  store: Pick<HiveStore, 'database'>,
  sessionIds: readonly string[],
  onBatch: (deleted: DeletedRows) => void = () => {},
  options: { pauseMs?: number; onlyIdle?: boolean; signal?: AbortSignal } = {},
): Promise<DeletedRows> {
  const sqlite = store.database.sqlite
  const deleted: DeletedRows = { sessions: 0, messages: 0, artifacts: 0, skipped: [] }
  const artifactsOf = sqlite.prepare('SELECT count(*) FROM artifacts WHERE session_id = ?').pluck()
  const deleteMessages = sqlite.prepare(
    `DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE session_id = ? ORDER BY seq LIMIT ${DELETE_BATCH})`,
  )
  const deleteSession = sqlite.prepare('DELETE FROM sessions WHERE id = ?')
  const state = sqlite.prepare(
    'SELECT s.status AS status, (SELECT max(seq) FROM messages m WHERE m.session_id = s.id) AS lastSeq FROM sessions s WHERE s.id = ?',
  )
  const descendants = sqlite
    .prepare(
      `WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT s.id FROM sessions s JOIN tree ON s.parent_session_id = tree.id)
       SELECT id FROM tree`,
    )
    .pluck()
  for (const root of sessionIds) {
    // Sub-agent sessions first, so that none is left behind with its parent gone.
    const tree = (descendants.all(root) as string[]).reverse()
    const startedWith = new Map(
      tree.map((id) => [id, state.get(id) as { status: string; lastSeq: number | null } | undefined]),
    )
    sessions: for (const id of tree) {
      // Artifacts owned by the session's rows go with them (triggers); others stay, unlinked.
      const artifactsBefore = artifactsOf.get(id) as number
      for (;;) {
        const removed = await store.database.writeTransaction(() => {
          const now = state.get(id) as { status: string; lastSeq: number | null } | undefined
          if (!now) return { messages: 0, sessions: 0, artifacts: 0, skip: null }
          if (options.onlyIdle) {
            const before = startedWith.get(id)
            if (now.status === 'active')
              return { messages: 0, sessions: 0, artifacts: 0, skip: 'active again' }
            if ((now.lastSeq ?? -1) > (before?.lastSeq ?? -1))
              return { messages: 0, sessions: 0, artifacts: 0, skip: 'new messages since the deletion began' }
          }
          const messages = deleteMessages.run(id).changes
          if (messages > 0) return { messages, sessions: 0, artifacts: 0, skip: null }
          const artifacts = artifactsBefore - (artifactsOf.get(id) as number)
          return { messages, sessions: deleteSession.run(id).changes, artifacts, skip: null }
        })
        deleted.messages += removed.messages
        deleted.sessions += removed.sessions
        deleted.artifacts += removed.artifacts
        if (removed.skip) {
          deleted.skipped.push({ id, reason: removed.skip })
          // Its parent (and the rest of this tree) stays too: a resumed sub-agent needs it.
          break sessions
        }
        onBatch(deleted)
        if (removed.messages === 0) break
        throwIfAborted(options.signal)
        // Room for other writers between batches.
        if (options.pauseMs) await pause(options.pauseMs)
      }
    }
  }
  return deleted
}

/**
 * Deletes a cell and everything of it, gently: its sessions batch by batch
 * ({@link deleteSessionsGently}), then the cell itself through the cell service (which records
 * `cell.deleted` on the timeline). `NOT_FOUND` when there is no such cell.
 */
export async function deleteCellGently(
  store: Pick<HiveStore, 'database' | 'uncached'>,
  cellId: string,
  onBatch: (deleted: DeletedRows) => void = () => {},
  options: { pauseMs?: number; signal?: AbortSignal } = {},
): Promise<DeletedRows> {
  const sqlite = store.database.sqlite
  const exists = sqlite.prepare('SELECT 1 FROM cells WHERE id = ?').pluck().get(cellId)
  if (exists === undefined) {
    throw new HiveStorageError('NOT_FOUND', `there is no cell ${cellId}`, { value: cellId })
  }
  const sessions = sqlite
    .prepare('SELECT id FROM sessions WHERE cell_id = ? AND parent_session_id IS NULL')
    .pluck()
    .all(cellId) as string[]
  const deleted = await deleteSessionsGently(store, sessions, onBatch, options)
  // Its timeline and artifacts in batches too (a busy cell has hundreds of thousands of events).
  let artifacts = 0
  for (const [table, key] of [
    ['events', 'rowid'],
    ['artifacts', 'rid'],
  ] as const) {
    const batch = sqlite.prepare(
      `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE cell_id = ? LIMIT ${DELETE_BATCH})`,
    )
    for (;;) {
      const removed = await store.database.writeTransaction(() => batch.run(cellId).changes)
      if (table === 'artifacts') artifacts += removed
      if (removed < DELETE_BATCH) break
      if (options.pauseMs) await pause(options.pauseMs)
    }
  }
  // Sessions whose parent lives in another cell (rare) go with the cell's cascade.
  const left = sqlite.prepare('SELECT count(*) FROM sessions WHERE cell_id = ?').pluck().get(cellId) as number
  if (!(await store.uncached.cells.delete(cellId, { source: 'system' }))) {
    throw new HiveStorageError('NOT_FOUND', `there is no cell ${cellId}`, { value: cellId })
  }
  deleted.artifacts += artifacts
  deleted.sessions += left
  onBatch(deleted)
  return deleted
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** `ABORTED` once `signal` is: long maintenance work stops between batches (each batch is whole). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new HiveStorageError('ABORTED', 'stopped before it was done (the store is closing)')
}
