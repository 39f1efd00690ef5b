import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import { HiveStorageError, parseInput } from '@hive/errors'
import {
  type CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely'
import { z } from 'zod'
import {
  checkOutcome,
  checkSql,
  type ForeignKeyResult,
  foreignKeyOutcome,
  type IntegrityResult,
} from './integrity.js'
import { READ_WORKER_SOURCE } from './read-worker-source.js'
import { toHiveStorageError } from './sqlite-error.js'

const configSchema = z
  .object({
    /** The database file (it must exist). */
    path: z.string().min(1),
    /** Worker threads, each with a read-only connection. */
    size: z
      .int()
      .min(1)
      .max(64)
      .default(Math.max(2, Math.min(4, availableParallelism()))),
    busyTimeoutMs: z.int().min(0).max(3_600_000).default(5000),
    cacheSizeKiB: z
      .int()
      .min(64)
      .max(4 * 1024 * 1024)
      .default(16 * 1024),
    statementCacheSize: z.int().min(0).max(100_000).default(128),
  })
  .strict()

export type ReadPoolOptions = z.input<typeof configSchema>

export interface ReadPoolConfig extends ReadPoolOptions {
  /** @internal The worker's code (tests inject failures here). */
  readonly workerSource?: string
}

export interface ReadPoolStats {
  readonly size: number
  readonly busy: number
  readonly queued: number
  readonly completed: number
  readonly failed: number
  /** Workers that died and were replaced. */
  readonly restarts: number
}

interface Job {
  readonly message: { op: 'query' | 'stream'; sql: string; parameters: readonly unknown[]; chunk?: number }
  readonly signal: AbortSignal | undefined
  /** Called with each reply of the worker; returns true when the job is over. */
  readonly onReply: (reply: Reply) => boolean
  readonly onFailure: (error: HiveStorageError) => void
}

interface Reply {
  readonly id: number
  readonly rows?: unknown[]
  readonly done?: boolean
  readonly error?: { message: string; code?: string }
}

interface Slot {
  worker: Worker
  job: (Job & { id: number }) | undefined
}

/**
 * Read-only connections in worker threads, so that long reads (search, export, transcript
 * streaming, checks) leave the event loop free. Each worker runs one query at a time; queries
 * wait in order for a free worker. A read sees everything committed before it started (WAL).
 * A worker that dies is replaced, and its query fails with a typed error instead of hanging;
 * `close()` lets work in flight and queued finish; an AbortSignal takes a query out of the queue.
 * Errors are the same `HiveStorageError`s a query on the main thread gives.
 *
 * @example
 * ```ts
 * const pool = new ReadPool({ path: '/data/hive.db' })
 * const readDb = new Kysely<Database>({ dialect: pool.dialect })
 * const { rows } = await readDb.selectFrom('cells').selectAll().execute() // runs in a worker
 * await pool.close()
 * ```
 */
export class ReadPool {
  readonly #config: z.output<typeof configSchema>
  readonly #source: string
  readonly #driverPath: string
  readonly #slots: Slot[] = []
  readonly #queue: Array<Job & { id: number }> = []
  #nextId = 0
  #closing: Promise<void> | undefined
  #completed = 0
  #failed = 0
  #restarts = 0
  /** A Kysely dialect whose queries run on this pool (reads only; no transactions). */
  readonly dialect: Dialect

  constructor(config: ReadPoolConfig) {
    const { workerSource, ...options } = config
    const parsed = parseInput(configSchema, options, 'read pool options')
    this.#config = { ...parsed, path: resolve(parsed.path) }
    this.#source = workerSource ?? READ_WORKER_SOURCE
    this.#driverPath = createRequire(import.meta.url).resolve('better-sqlite3')
    for (let i = 0; i < this.#config.size; i++) this.#slots.push(this.#spawn())
    this.dialect = new ReadPoolDialect(this)
  }

  /** Runs a query that returns rows on a worker. */
  query<R>(
    query: Pick<CompiledQuery, 'sql' | 'parameters'>,
    options: { signal?: AbortSignal } = {},
  ): Promise<QueryResult<R>> {
    return new Promise((resolvePromise, reject) => {
      this.#submit({
        message: { op: 'query', sql: query.sql, parameters: query.parameters },
        signal: options.signal,
        onReply: (reply) => {
          if (reply.error) reject(workerError(reply.error, query.sql))
          else resolvePromise({ rows: (reply.rows ?? []) as R[] })
          return true
        },
        onFailure: reject,
      })
    })
  }

  /**
   * Streams a query's rows in chunks: the worker sends the next chunk only when this one was
   * taken, so memory holds a chunk at a time. Stopping early cancels the query in the worker.
   */
  async *stream<R>(
    query: Pick<CompiledQuery, 'sql' | 'parameters'>,
    options: { signal?: AbortSignal; chunkSize?: number } = {},
  ): AsyncGenerator<R[]> {
    const chunk = options.chunkSize ?? 500
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > 100_000) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `chunkSize must be an integer from 1 to 100000, not ${chunk}`,
        { value: chunk },
      )
    }
    const inbox: Array<Reply | HiveStorageError> = []
    let wake: (() => void) | undefined
    const push = (item: Reply | HiveStorageError) => {
      inbox.push(item)
      wake?.()
    }
    let job: (Job & { id: number }) | undefined
    let finished = false
    this.#submit(
      {
        message: { op: 'stream', sql: query.sql, parameters: query.parameters, chunk },
        signal: options.signal,
        onReply: (reply) => {
          push(reply)
          return reply.error !== undefined || reply.done === true
        },
        onFailure: push,
      },
      (submitted) => {
        job = submitted
      },
    )
    try {
      for (;;) {
        while (inbox.length === 0) await new Promise<void>((resolveWait) => (wake = resolveWait))
        const item = inbox.shift() as Reply | HiveStorageError
        if (item instanceof HiveStorageError) throw item
        if (item.error) throw workerError(item.error, query.sql)
        if ((item.rows?.length ?? 0) > 0) yield item.rows as R[]
        if (item.done) {
          finished = true
          return
        }
        this.#send(job, { op: 'next' })
      }
    } finally {
      // The consumer stopped early: a queued query leaves the queue; a running one is cancelled
      // in its worker, which drops the statement and becomes free.
      if (!finished && job) this.#abandon(job)
    }
  }

  /** `PRAGMA quick_check` in a worker: as {@link quickCheck}, off the event loop. */
  quickCheck(options: { maxErrors?: number; signal?: AbortSignal } = {}): Promise<IntegrityResult> {
    return this.#check('quick_check', options)
  }

  /** `PRAGMA integrity_check` in a worker: as {@link integrityCheck}, off the event loop. */
  integrityCheck(options: { maxErrors?: number; signal?: AbortSignal } = {}): Promise<IntegrityResult> {
    return this.#check('integrity_check', options)
  }

  /** `PRAGMA foreign_key_check` in a worker: as {@link foreignKeyCheck}, off the event loop. */
  async foreignKeyCheck(options: { signal?: AbortSignal } = {}): Promise<ForeignKeyResult> {
    const { rows } = await this.query<Record<string, unknown>>(
      { sql: 'PRAGMA foreign_key_check', parameters: [] },
      options,
    )
    return foreignKeyOutcome(rows)
  }

  async #check(
    pragma: 'quick_check' | 'integrity_check',
    options: { maxErrors?: number; signal?: AbortSignal },
  ): Promise<IntegrityResult> {
    const sql = checkSql(pragma, options.maxErrors ?? 100)
    let rows: Array<Record<string, unknown>>
    try {
      rows = (await this.query<Record<string, unknown>>({ sql, parameters: [] }, options)).rows
    } catch (error) {
      // Damage is a finding; anything else (a closed pool, a cancelled check) is thrown.
      return checkOutcome(pragma, { error })
    }
    return checkOutcome(pragma, { rows })
  }

  stats(): ReadPoolStats {
    return {
      size: this.#slots.length,
      busy: this.#slots.filter((slot) => slot.job).length,
      queued: this.#queue.length,
      completed: this.#completed,
      failed: this.#failed,
      restarts: this.#restarts,
    }
  }

  /** Lets queued and running queries finish, then stops the workers. New queries are refused. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#queue.length > 0 || this.#slots.some((slot) => slot.job)) {
        await new Promise((resolveWait) => setTimeout(resolveWait, 5))
      }
      await Promise.all(this.#slots.map((slot) => slot.worker.terminate()))
    })()
    return this.#closing
  }

  #submit(job: Job, onQueued?: (job: Job & { id: number }) => void): void {
    if (this.#closing) {
      job.onFailure(new HiveStorageError('DATABASE_ERROR', 'the read pool is closed'))
      return
    }
    if (job.signal?.aborted) {
      job.onFailure(
        new HiveStorageError('ABORTED', 'the query was cancelled before it ran', {
          cause: job.signal.reason,
        }),
      )
      return
    }
    const queued = { ...job, id: this.#nextId++ }
    onQueued?.(queued)
    if (job.signal) {
      job.signal.addEventListener(
        'abort',
        () => {
          const index = this.#queue.indexOf(queued)
          if (index < 0) return // already running: a query cannot be interrupted halfway
          this.#queue.splice(index, 1)
          job.onFailure(
            new HiveStorageError('ABORTED', 'the query was cancelled before it ran', {
              cause: job.signal?.reason,
            }),
          )
        },
        { once: true },
      )
    }
    this.#queue.push(queued)
    this.#dispatch()
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (slot.job || this.#queue.length === 0) continue
      const job = this.#queue.shift() as Job & { id: number }
      slot.job = job
      slot.worker.ref()
      slot.worker.postMessage({ ...job.message, id: job.id })
    }
  }

  #abandon(job: Job & { id: number }): void {
    const index = this.#queue.indexOf(job)
    if (index >= 0) this.#queue.splice(index, 1)
    else this.#send(job, { op: 'cancel' })
  }

  #send(job: (Job & { id: number }) | undefined, message: { op: 'next' | 'cancel' }): void {
    const slot = this.#slots.find((s) => s.job === job)
    slot?.worker.postMessage({ ...message, id: job?.id })
  }

  #spawn(): Slot {
    const worker = new Worker(this.#source, {
      eval: true,
      workerData: {
        driver: this.#driverPath,
        path: this.#config.path,
        busyTimeoutMs: this.#config.busyTimeoutMs,
        cacheSizeKiB: this.#config.cacheSizeKiB,
        statementCacheSize: this.#config.statementCacheSize,
      },
    })
    const slot: Slot = { worker, job: undefined }
    worker.on('message', (reply: Reply) => {
      const job = slot.job
      if (!job || reply.id !== job.id) return
      if (job.onReply(reply)) {
        if (reply.error) this.#failed += 1
        else this.#completed += 1
        slot.job = undefined
        worker.unref()
        this.#dispatch()
      }
    })
    const replace = (reason: string) => {
      const index = this.#slots.indexOf(slot)
      if (index < 0) return
      const job = slot.job
      slot.job = undefined
      if (this.#closing) {
        this.#slots.splice(index, 1)
      } else {
        this.#restarts += 1
        this.#slots[index] = this.#spawn()
      }
      if (job) {
        this.#failed += 1
        job.onFailure(
          new HiveStorageError(
            'INTERNAL',
            `a read worker stopped (${reason}) while it ran a query; the query was not completed`,
            { value: job.message.sql },
          ),
        )
      }
      this.#dispatch()
    }
    worker.on('error', (error) => replace(error.message))
    worker.on('exit', (code) => replace(`exit code ${code}`))
    // After the listeners (which ref it): an idle worker must not keep the process alive.
    worker.unref()
    return slot
  }
}

/** A worker's error as the same typed error a main-thread query gives. */
function workerError(error: { message: string; code?: string }, sql: string): HiveStorageError {
  if (error.code === 'HIVE_NOT_A_READ') {
    return new HiveStorageError('INVALID_INPUT', `${error.message}: ${sql.slice(0, 80)}`, { value: sql })
  }
  return toHiveStorageError(
    Object.assign(new Error(error.message), error.code ? { code: error.code } : {}),
    'query failed',
    sql,
  )
}

/** The Kysely dialect of a {@link ReadPool}: every query goes to a worker. */
class ReadPoolDialect implements Dialect {
  readonly #pool: ReadPool

  constructor(pool: ReadPool) {
    this.#pool = pool
  }

  createDriver(): Driver {
    return new ReadPoolDriver(this.#pool)
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    return new SqliteAdapter()
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface takes Kysely<any>.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db)
  }
}

class ReadPoolDriver implements Driver {
  readonly #pool: ReadPool

  constructor(pool: ReadPool) {
    this.#pool = pool
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    // Stateless: any number of queries at once; the pool queues them.
    const pool = this.#pool
    return {
      executeQuery: <R>(query: CompiledQuery) => pool.query<R>(query),
      streamQuery: async function* <R>(query: CompiledQuery, chunkSize?: number) {
        for await (const rows of pool.stream<R>(query, chunkSize === undefined ? {} : { chunkSize }))
          yield { rows }
      },
    }
  }

  async beginTransaction(): Promise<void> {
    throw new HiveStorageError(
      'INVALID_INPUT',
      'the read pool runs single reads: open transactions on the writer',
    )
  }

  async commitTransaction(): Promise<void> {}

  async rollbackTransaction(): Promise<void> {}

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {}
}
