import { EventEmitter, on } from 'node:events'
import { hostname } from 'node:os'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { type Database, ids, type OperationRow } from '@hive/schema'
import type { SqliteDatabase } from '@hive/sqlite'
import type { ProgressEvent, ProgressListener } from '../progress.js'

/** How an operation stands, as any process sees it. `abandoned`: running, but its heartbeat stopped. */
export type OperationStatus = 'running' | 'succeeded' | 'failed' | 'abandoned'

/** One long operation: what it is, how far it got, and how it ended. */
export interface OperationInfo {
  readonly id: string
  readonly kind: string
  readonly status: OperationStatus
  readonly phase: string | null
  readonly done: number | null
  readonly total: number | null
  readonly bytes: number | null
  readonly pid: number
  readonly host: string
  readonly startedAt: number
  readonly heartbeatAt: number
  readonly finishedAt: number | null
  /** From the rate so far, while running with a known total. */
  readonly estimatedRemainingMs: number | null
  readonly result: unknown
  readonly error: { readonly code: string; readonly message: string } | null
}

export interface OperationLogConfig {
  readonly database: SqliteDatabase<Database>
  readonly now?: () => number
  /** How often a running operation's row is refreshed (default 1 s). */
  readonly heartbeatMs?: number
  /** A running operation whose heartbeat is older than this is abandoned (default 15 s). */
  readonly staleMs?: number
  /** Operations kept per kind once finished (default 50). */
  readonly keepPerKind?: number
}

/**
 * Long operations of a data directory, for this process's subscribers and for other processes:
 * each keeps a row of `operations` (progress, heartbeat, then outcome), so `hive status` in
 * another terminal shows it, and one that died shows as abandoned rather than running forever.
 *
 * @example
 * ```ts
 * const result = await store.operations.track('gc', (progress) => collect(progress))
 * for await (const update of store.operations.updates()) console.log(update.kind, update.done)
 * ```
 */
export class OperationLog {
  readonly #config: Required<Omit<OperationLogConfig, 'database'>> & { database: SqliteDatabase<Database> }
  readonly #events = new EventEmitter()
  readonly #host = hostname()
  /** Whether the database has the `operations` table (it may be at an older schema). */
  #persist: boolean | undefined

  constructor(config: OperationLogConfig) {
    this.#config = { now: Date.now, heartbeatMs: 1000, staleMs: 15_000, keepPerKind: 50, ...config }
    this.#events.setMaxListeners(0)
  }

  /**
   * Runs `work` as an operation of `kind`: its progress goes to subscribers and (throttled) to
   * the database; its end is recorded with `figures(result)` or the typed error it threw, which
   * is then rethrown.
   */
  async track<T>(
    kind: string,
    work: (progress: ProgressListener) => Promise<T>,
    figures: (result: T) => unknown = () => null,
    options: {
      /**
       * Write nothing while it runs, and its record at the end only if this says so: for checks,
       * which must not write to a database they may find damaged.
       */
      recordIf?: (result: T) => boolean
    } = {},
  ): Promise<T> {
    const operation = this.#start(kind, options.recordIf !== undefined)
    try {
      const result = await work(operation.progress)
      operation.finish('succeeded', figures(result), null, options.recordIf?.(result) ?? true)
      return result
    } catch (error) {
      const failure = failureOf(error)
      operation.finish('failed', null, failure, options.recordIf === undefined)
      throw error
    }
  }

  /**
   * Records an operation that already ended (one that could not keep a record while it ran,
   * such as a restore that replaced the database). Best effort, like every record.
   */
  record(
    kind: string,
    outcome: { startedAt: number; result?: unknown; error?: { code: string; message: string } },
  ): void {
    const now = this.#config.now()
    try {
      if (!this.#hasTable()) return
      this.#config.database.sqlite
        .prepare(
          'INSERT INTO operations (id, kind, state, pid, host, started_at, heartbeat_at, finished_at, result, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          ids.operation(),
          kind,
          outcome.error ? 'failed' : 'succeeded',
          process.pid,
          this.#host,
          outcome.startedAt,
          now,
          now,
          outcome.result === undefined ? null : safeJson(outcome.result),
          outcome.error ? JSON.stringify(outcome.error) : null,
        )
      const [sql, ...params] = this.#pruneStatement(kind)
      this.#config.database.sqlite.prepare(sql).run(...params)
    } catch {
      // Best effort.
    }
  }

  /**
   * Keeps the last `keepPerKind` finished operations of a kind, and forgets operations whose
   * process died (no heartbeat) more than a week ago.
   */
  #pruneStatement(kind: string): [string, ...unknown[]] {
    return [
      `DELETE FROM operations WHERE (kind = ? AND state <> 'running' AND id NOT IN (
         SELECT id FROM operations WHERE kind = ? AND state <> 'running' ORDER BY started_at DESC, id DESC LIMIT ?))
         OR (state = 'running' AND heartbeat_at < ?)`,
      kind,
      kind,
      this.#config.keepPerKind,
      this.#config.now() - 7 * 24 * 60 * 60 * 1000,
    ]
  }

  /** Every progress update and end of this process's operations, as they happen. */
  subscribe(listener: (operation: OperationInfo) => void): () => void {
    this.#events.on('update', listener)
    return () => this.#events.off('update', listener)
  }

  /** The same updates as an async iterable (ends when `signal` aborts). */
  async *updates(signal?: AbortSignal): AsyncGenerator<OperationInfo> {
    try {
      for await (const [info] of on(this.#events, 'update', signal ? { signal } : {}))
        yield info as OperationInfo
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error
    }
  }

  /**
   * Operations recorded in the database, newest first: all processes', running, finished and
   * abandoned ones.
   */
  list(options: { kind?: string; running?: boolean; limit?: number } = {}): OperationInfo[] {
    if (!this.#hasTable()) return []
    const where: string[] = []
    const params: unknown[] = []
    if (options.kind !== undefined) {
      where.push('kind = ?')
      params.push(options.kind)
    }
    if (options.running) where.push("state = 'running'")
    const rows = this.#config.database.sqlite
      .prepare(
        `SELECT * FROM operations ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`,
      )
      .all(...params, options.limit ?? 100) as OperationRow[]
    return rows.map((row) => this.#info(row))
  }

  /** The last finished (or abandoned) run of each kind starting with `prefix`. */
  lastOfEachKind(prefix = ''): OperationInfo[] {
    if (!this.#hasTable()) return []
    const rows = this.#config.database.sqlite
      .prepare(
        `SELECT o.* FROM operations o
         WHERE o.kind LIKE ? ESCAPE '\\' AND o.id = (
           SELECT i.id FROM operations i WHERE i.kind = o.kind ORDER BY i.started_at DESC, i.id DESC LIMIT 1)
         ORDER BY o.kind`,
      )
      .all(`${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) as OperationRow[]
    return rows.map((row) => this.#info(row))
  }

  #hasTable(): boolean {
    this.#persist ??=
      this.#config.database.sqlite
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'operations'")
        .get() !== undefined
    return this.#persist
  }

  #info(row: OperationRow): OperationInfo {
    const now = this.#config.now()
    const stale = row.state === 'running' && row.heartbeat_at < now - this.#config.staleMs
    const elapsed = (row.finished_at ?? now) - row.started_at
    const remaining =
      row.state === 'running' && !stale && row.total !== null && row.done !== null && row.done > 0
        ? Math.max(0, Math.round((elapsed / row.done) * (row.total - row.done)))
        : null
    return {
      id: row.id,
      kind: row.kind,
      status: stale ? 'abandoned' : row.state,
      phase: row.phase,
      done: row.done,
      total: row.total,
      bytes: row.bytes,
      pid: row.pid,
      host: row.host,
      startedAt: row.started_at,
      heartbeatAt: row.heartbeat_at,
      finishedAt: row.finished_at,
      estimatedRemainingMs: remaining,
      result: row.result === null ? null : JSON.parse(row.result),
      error: row.error === null ? null : JSON.parse(row.error),
    }
  }

  #start(kind: string, deferred = false) {
    if (!/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/.test(kind)) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `an operation kind is a dotted lower-case name, not ${JSON.stringify(kind)}`,
        {
          value: kind,
        },
      )
    }
    const { database, now, heartbeatMs } = this.#config
    const started = now()
    const row: OperationRow = {
      id: ids.operation(),
      kind,
      state: 'running',
      phase: null,
      done: null,
      total: null,
      bytes: null,
      pid: process.pid,
      host: this.#host,
      started_at: started,
      heartbeat_at: started,
      finished_at: null,
      result: null,
      error: null,
    }
    // The record is best effort: an operation never fails because its bookkeeping could not be written.
    let live = !deferred
    /** Writes, or says it could not (the connection is inside someone's transaction, busy…). */
    const write = (sql: string, ...params: unknown[]): boolean => {
      if (!live) return true
      try {
        if (database.closed || database.readonly || !this.#hasTable()) return true
        if (database.sqlite.inTransaction) return false // inside someone's transaction: later
        database.sqlite.prepare(sql).run(...params)
        return true
      } catch {
        // Busy, read-only or damaged: the operation goes on; the next beat tries again.
        return false
      }
    }
    write(
      'INSERT INTO operations (id, kind, state, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      row.id,
      row.kind,
      row.state,
      row.pid,
      row.host,
      row.started_at,
      row.heartbeat_at,
    )
    let written = started
    const persist = () => {
      row.heartbeat_at = now()
      written = row.heartbeat_at
      write(
        'UPDATE operations SET phase = ?, done = ?, total = ?, bytes = ?, heartbeat_at = ? WHERE id = ?',
        row.phase,
        row.done,
        row.total,
        row.bytes,
        row.heartbeat_at,
        row.id,
      )
    }
    const timer = setInterval(persist, heartbeatMs)
    timer.unref()
    const emit = () => this.#events.emit('update', this.#info(row))
    emit()
    return {
      progress: (event: ProgressEvent) => {
        row.phase = event.phase
        row.done = clampCount(event.done)
        row.total = event.total === undefined ? null : clampCount(event.total)
        row.bytes = event.bytes === undefined ? row.bytes : clampCount(event.bytes)
        if (now() - written >= Math.min(250, heartbeatMs)) persist()
        emit()
      },
      finish: (
        state: 'succeeded' | 'failed',
        result: unknown,
        error: { code: string; message: string } | null,
        record: boolean,
      ) => {
        clearInterval(timer)
        row.state = state
        row.finished_at = now()
        row.heartbeat_at = row.finished_at
        row.result = result === null || result === undefined ? null : safeJson(result)
        row.error = error === null ? null : JSON.stringify(error)
        if (!live && !record) return emit()
        live = true
        // The whole final row at once (inserted when the record was deferred), then the pruning.
        const settle = () =>
          write(
            `INSERT INTO operations (id, kind, state, phase, done, total, bytes, pid, host, started_at, heartbeat_at, finished_at, result, error)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, phase = excluded.phase, done = excluded.done,
               total = excluded.total, bytes = excluded.bytes, heartbeat_at = excluded.heartbeat_at,
               finished_at = excluded.finished_at, result = excluded.result, error = excluded.error`,
            row.id,
            row.kind,
            row.state,
            row.phase,
            row.done,
            row.total,
            row.bytes,
            row.pid,
            row.host,
            row.started_at,
            row.heartbeat_at,
            row.finished_at,
            row.result,
            row.error,
          ) && write(...this.#pruneStatement(row.kind))
        // The connection may be inside someone's transaction right now: the record is written
        // as soon as it is free, never left `running` (it would show as abandoned).
        if (!settle()) {
          let tries = 0
          const retry = setInterval(() => {
            if (settle() || ++tries >= 600) clearInterval(retry)
          }, 50)
          retry.unref()
        }
        emit()
      },
    }
  }
}

function clampCount(value: number): number | null {
  return Number.isFinite(value) ? Math.max(0, Math.round(value)) : null
}

function safeJson(value: unknown): string | null {
  try {
    const text = JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? Number(v) : v))
    return text === undefined || text.length > 64 * 1024 ? null : text
  } catch {
    return null
  }
}

/** What an operation's record keeps of the error that ended it: its code and message. */
export function failureOf(error: unknown): { code: string; message: string } {
  return isHiveStorageError(error)
    ? { code: error.code, message: error.message }
    : { code: 'INTERNAL', message: (error as Error)?.message ?? String(error) }
}
