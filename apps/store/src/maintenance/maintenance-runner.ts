import { HiveStorageError, isHiveStorageError, parseInput } from '@hive/errors'
import { ReadPool } from '@hive/sqlite'
import { z } from 'zod'
import { damageNote, markDamaged, refuseIfDamaged } from '../damage-marker.js'
import { fileSize } from '../file-size.js'
import { failureOf, type OperationInfo } from '../operations/operation-log.js'
import type { ProgressListener } from '../progress.js'
import type { HiveStore } from '../store.js'
import { checkpointNow } from './checkpoint-now.js'
import { sweep } from './collect-garbage.js'
import { pause } from './delete-gently.js'
import { Lease } from './lease.js'
import {
  MAINTENANCE_TASKS,
  type MaintenanceSettings,
  type MaintenanceTask,
  readMaintenanceSettings,
  taskInterval,
} from './maintenance-settings.js'
import { retain } from './retention.js'
import { isEmptyPolicy, readRetentionPolicy } from './retention-policy.js'
import { vacuum } from './vacuum.js'

/** The lease that makes one runner per data directory. */
export const MAINTENANCE_LEASE = 'maintenance'

const optionsSchema = z
  .strictObject({
    /** How often the runner looks for due work (default 1 s). */
    tickMs: z.int().min(10).max(600_000).default(1000),
    /** How long a runner's lease lasts without renewal (default 30 s): a crashed runner's work resumes elsewhere after it. */
    leaseMs: z.int().min(100).max(3_600_000).default(30_000),
    /** Pause between write batches, so the store's own writes take turns (default 10 ms). */
    pauseMs: z.int().min(0).max(60_000).default(10),
    /** A tick that sees commits since the last one waits (the store is busy), up to this many ticks in a row. */
    maxBusyTicks: z.int().min(0).max(1000).default(10),
    /** Only these tasks (default all). */
    tasks: z.array(z.enum(MAINTENANCE_TASKS)).min(1).optional(),
    /** The clock (the store's, when the store makes the runner). */
    now: z.custom<() => number>((value) => typeof value === 'function').optional(),
  })
  .refine((o) => o.leaseMs >= 3 * o.tickMs, {
    message: 'leaseMs must be at least 3 × tickMs (the lease is renewed every tick)',
    path: ['leaseMs'],
  })

export type MaintenanceRunnerOptions = z.input<typeof optionsSchema>

/** What the runner's `integrity` task found. */
export interface IntegrityFindings {
  readonly ok: boolean
  readonly quickCheck: readonly string[]
  readonly blobsVerified: number
  readonly problems: ReadonlyArray<{ readonly hash: string; readonly problem: string }>
}

/**
 * Looks after a data directory while Hive runs: WAL checkpoints, sampled integrity checks
 * (every blob verified within a period), retention, blob gc, incremental vacuum and FTS
 * merges, each on its interval from the `maintenance` settings. Work goes in small write
 * batches with pauses between, and waits while the store is busy. One runner works per data
 * directory across processes (a lease with a heartbeat; a crashed runner's lease expires and
 * another takes over). Every run is an operation (`maintenance.<task>`) with its outcome and
 * figures; a task that throws is recorded and the others go on.
 *
 * @example
 * ```ts
 * const store = await openHiveStore({ dataDir, maintenance: true }) // or:
 * const runner = new MaintenanceRunner(store, { tickMs: 5000 })
 * runner.start()
 * await runner.stop()
 * ```
 */
export class MaintenanceRunner {
  readonly #store: HiveStore
  readonly #options: z.output<typeof optionsSchema>
  readonly #lease: Lease
  #loop: Promise<void> | undefined
  #stopping = false
  #wake: (() => void) | undefined
  #pool: ReadPool | undefined
  #lastSeen = { dataVersion: -1, changes: -1 }
  #busyTicks = 0
  #leader = false
  /** Aborted by `stop()`: long tasks end between batches instead of holding the close up. */
  #abort = new AbortController()
  #lastError: string | undefined

  constructor(store: HiveStore, options: MaintenanceRunnerOptions = {}) {
    this.#store = store
    this.#options = parseInput(optionsSchema, options, 'maintenance runner options')
    this.#lease = new Lease({
      database: store.database,
      name: MAINTENANCE_LEASE,
      ttlMs: this.#options.leaseMs,
      now: () => this.#now(),
    })
  }

  /** Whether this runner held the lease at its last tick. */
  get isLeader(): boolean {
    return this.#leader
  }

  get holder(): string {
    return this.#lease.holder
  }

  /** Starts the periodic loop (in the background; `stop()` ends it). */
  start(): void {
    if (this.#loop) return
    this.#stopping = false
    this.#abort = new AbortController()
    this.#loop = this.#run()
  }

  /** Ends the loop after the task in progress, releases the lease and the runner's worker. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#abort.abort()
    this.#wake?.()
    await this.#loop
    this.#loop = undefined
    if (this.#leader && !this.#store.database.closed) await this.#lease.release().catch(() => {})
    this.#leader = false
    await this.#pool?.close()
    this.#pool = undefined
  }

  /**
   * Runs `work` holding the maintenance lease, as the runner of the data directory for that
   * long (`hive maintenance run`): `CONFLICT` while another process's runner holds it, so that
   * no task runs twice at once.
   */
  async whileLeader<T>(work: () => Promise<T>): Promise<T> {
    if (!(await this.#lease.acquire())) {
      const holder = this.#lease.current()
      throw new HiveStorageError(
        'CONFLICT',
        `the maintenance runner of pid ${holder?.pid} on ${holder?.host} works on this data directory: its tasks run on their schedule (see \`hive status\`)`,
        { value: holder?.holder },
      )
    }
    const renew = setInterval(
      () => void this.#lease.acquire().catch(() => {}),
      Math.max(50, this.#options.leaseMs / 3),
    )
    renew.unref()
    try {
      return await work()
    } finally {
      clearInterval(renew)
      await this.#lease.release().catch(() => {})
    }
  }

  /** When each task last ran and when it is due, by the schedule in force. */
  schedule(): Array<{
    task: MaintenanceTask
    lastRun: OperationInfo | null
    dueAt: number
    enabled: boolean
  }> {
    const settings = readMaintenanceSettings(this.#store)
    const last = new Map(this.#store.operations.lastOfEachKind('maintenance.').map((op) => [op.kind, op]))
    return this.#tasks().map((task) => {
      const lastRun = last.get(`maintenance.${task}`) ?? null
      return {
        task,
        lastRun,
        dueAt: lastRun ? lastRun.startedAt + taskInterval(settings, task) : 0,
        enabled: !settings.disabled.includes(task),
      }
    })
  }

  /** Runs one task now, whatever its schedule, as an operation; resolves with its record. */
  async runTask(
    task: MaintenanceTask,
    options: { onProgress?: ProgressListener } = {},
  ): Promise<OperationInfo> {
    if (!MAINTENANCE_TASKS.includes(task)) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `unknown maintenance task ${JSON.stringify(task)} (one of ${MAINTENANCE_TASKS.join(', ')})`,
        {
          value: task,
        },
      )
    }
    const settings = readMaintenanceSettings(this.#store)
    // The run as this process saw it end (its row may be written a moment later, or not at all
    // for an integrity check that found the database damaged).
    let last: OperationInfo | undefined
    const unsubscribe = this.#store.operations.subscribe((op) => {
      if (op.kind === `maintenance.${task}` && (last === undefined || last.id === op.id)) last = op
    })
    try {
      await this.#store.operations.track(
        `maintenance.${task}`,
        (progress) =>
          this.#perform(task, settings, (event) => {
            progress(event)
            options.onProgress?.(event)
          }),
        (figures) => figures,
        // The integrity task that finds the database damaged records nothing in it.
        task === 'integrity'
          ? { recordIf: (figures) => (figures as IntegrityFindings).quickCheck.length === 0 }
          : {},
      )
    } catch (error) {
      if (!isHiveStorageError(error) && !(error instanceof Error)) throw error
      // Recorded as failed: the record says how.
    } finally {
      unsubscribe()
    }
    if (!last) throw new HiveStorageError('INTERNAL', `the run of maintenance task ${task} was not seen`)
    return last
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve
        setTimeout(resolve, this.#options.tickMs).unref()
      })
      this.#wake = undefined
      if (this.#stopping || this.#store.database.closed) break
      try {
        await this.#tick()
      } catch (error) {
        // A database that closed under us ends the loop; anything else is recorded (once while
        // it lasts: settings edited by hand into nonsense, say) and waits for the next tick.
        if (this.#store.database.closed) break
        const failure = failureOf(error)
        // A damaged database gets nothing written, not even this.
        if (failure.message !== this.#lastError && !damageNote(this.#store.layout.root)) {
          this.#lastError = failure.message
          this.#store.operations.record('maintenance.runner', { startedAt: this.#now(), error: failure })
        }
      }
    }
  }

  async #tick(): Promise<void> {
    // A damaged database is left alone (the failure is recorded once; `hive recover` is the way).
    refuseIfDamaged(this.#store.layout.root)
    const quiet = this.#quiet()
    this.#leader = await this.#lease.acquire()
    this.#remember() // the lease's own write is not the store being busy
    if (!this.#leader) return
    if (!quiet && this.#busyTicks < this.#options.maxBusyTicks) {
      this.#busyTicks += 1
      return
    }
    this.#busyTicks = 0
    const now = this.#now()
    const due = this.schedule()
      .filter((entry) => entry.enabled && entry.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt)[0]
    this.#lastError = undefined // the schedule reads again
    if (!due) return
    // A long task renews the lease as it goes; one that lost it (another runner took over after
    // this process stalled past the lease) stops between batches, as on stop().
    const renew = setInterval(
      () =>
        void this.#lease
          .acquire()
          .then((held) => {
            if (held) return
            this.#leader = false
            this.#abort.abort()
          })
          .catch(() => {}),
      Math.max(50, this.#options.leaseMs / 3),
    )
    renew.unref()
    try {
      await this.runTask(due.task)
    } finally {
      clearInterval(renew)
      this.#remember() // nor are the task's own writes
      if (this.#abort.signal.aborted && !this.#stopping) this.#abort = new AbortController()
    }
  }

  /**
   * Whether nobody committed since the last look: another connection (`data_version`) or this
   * one (the store's own writers share the connection with the runner).
   */
  #quiet(): boolean {
    const seen = this.#commits()
    return seen.dataVersion === this.#lastSeen.dataVersion && seen.changes === this.#lastSeen.changes
  }

  #remember(): void {
    if (!this.#store.database.closed) this.#lastSeen = this.#commits()
  }

  #commits(): { dataVersion: number; changes: number } {
    const sqlite = this.#store.database.sqlite
    return {
      dataVersion: Number(sqlite.pragma('data_version', { simple: true })),
      changes: sqlite.prepare('SELECT total_changes()').pluck().get() as number,
    }
  }

  #tasks(): readonly MaintenanceTask[] {
    return this.#options.tasks ?? MAINTENANCE_TASKS
  }

  #now(): number {
    return (this.#options.now ?? Date.now)()
  }

  async #perform(
    task: MaintenanceTask,
    settings: MaintenanceSettings,
    progress: ProgressListener,
  ): Promise<unknown> {
    const store = this.#store
    const pauseMs = this.#options.pauseMs
    switch (task) {
      case 'checkpoint': {
        const walBytes = fileSize(`${store.layout.database}-wal`)
        const mode = walBytes > settings.walLimitBytes ? 'truncate' : 'passive'
        const result = checkpointNow(store.database, mode)
        return {
          mode,
          walBytesBefore: walBytes,
          walBytesAfter: fileSize(`${store.layout.database}-wal`),
          ...result,
        }
      }
      case 'integrity':
        return this.#integrity(settings, progress)
      case 'retention': {
        const policy = readRetentionPolicy(store)
        if (isEmptyPolicy(policy)) return { skipped: 'no retention policy is set' }
        const result = await retain(store, {
          policy,
          pauseMs,
          collect: false,
          estimate: false,
          signal: this.#abort.signal,
          onProgress: progress,
        })
        store.invalidateCaches()
        return {
          archivedCells: result.archivedCells,
          deletedCells: result.deletedCells,
          deletedSessions: result.deletedSessions,
          deletedMessages: result.deletedMessages,
          deletedArtifacts: result.deletedArtifacts,
          skipped: result.skipped.length,
        }
      }
      case 'gc':
        return sweep(store, { graceMs: settings.gcGraceMs, signal: this.#abort.signal, onProgress: progress })
      case 'vacuum':
        return vacuum(store, { pauseMs, signal: this.#abort.signal, onProgress: progress })
      case 'fts-optimize': {
        // 'optimize' in small steps: a negative 'merge' merges segments of every level, 16 pages
        // at a time, each step a short write transaction, until it finds nothing left to merge.
        let merges = 0
        for (;;) {
          const changed = await store.database.writeTransaction(() => {
            const before = store.database.sqlite.prepare('SELECT total_changes()').pluck().get() as number
            store.database.sqlite.prepare("INSERT INTO search (search, rank) VALUES ('merge', -16)").run()
            return (
              (store.database.sqlite.prepare('SELECT total_changes()').pluck().get() as number) - before > 1
            )
          })
          progress({ phase: 'merging', done: merges })
          if (!changed || this.#stopping || merges >= 10_000) break
          merges += 1
          if (pauseMs) await pause(pauseMs)
        }
        return { merges }
      }
    }
  }

  async #integrity(settings: MaintenanceSettings, progress: ProgressListener): Promise<IntegrityFindings> {
    const store = this.#store
    // quick_check reads the whole database: in a worker thread, so the event loop stays free.
    this.#pool ??= new ReadPool({ path: store.layout.database, size: 1 })
    progress({ phase: 'quick_check', done: 0, total: 1 })
    const check = await this.#pool.quickCheck()
    if (!check.ok) {
      // Damaged: marked, and nothing more is written to it (this run's record included).
      markDamaged(store.layout.root, {
        foundAt: this.#now(),
        by: 'the maintenance runner',
        problem:
          check.problems
            .filter((line) => !line.startsWith('*** in database'))
            .slice(0, 3)
            .join('; ') || 'quick_check failed',
      })
      return { ok: false, quickCheck: check.problems, blobsVerified: 0, problems: [] }
    }
    // The blobs verified longest ago (or never) first: every blob within the period.
    const total = store.database.sqlite.prepare('SELECT count(*) FROM blobs').pluck().get() as number
    const share = Math.ceil((total * settings.integrityEveryMs) / settings.verifyAllBlobsWithinMs)
    const count = Math.min(total, Math.max(settings.blobsPerCheck, share))
    const hashes = store.database.sqlite
      .prepare('SELECT hash FROM blobs ORDER BY verified_at IS NOT NULL, verified_at, hash LIMIT ?')
      .pluck()
      .all(count) as string[]
    const problems: Array<{ hash: string; problem: string }> = []
    const verified: string[] = []
    for (const [index, hash] of hashes.entries()) {
      progress({ phase: 'verifying blobs', done: index, total: hashes.length })
      if (this.#stopping) break
      try {
        const result = await store.blobs.verify(hash)
        if (result.ok) verified.push(hash)
        else problems.push({ hash, problem: result.problem ?? 'corrupt' })
      } catch (error) {
        if (!isHiveStorageError(error, 'NOT_FOUND')) throw error
        problems.push({ hash, problem: 'the blob file is missing' })
      }
    }
    const now = this.#now()
    const mark = store.database.sqlite.prepare('UPDATE blobs SET verified_at = ? WHERE hash = ?')
    for (let i = 0; i < verified.length; i += 200) {
      const batch = verified.slice(i, i + 200)
      await store.database.writeTransaction(() => {
        for (const hash of batch) mark.run(now, hash)
      })
    }
    progress({ phase: 'verifying blobs', done: hashes.length, total: hashes.length })
    return {
      ok: check.ok && problems.length === 0,
      quickCheck: check.ok ? [] : check.problems,
      blobsVerified: verified.length,
      problems,
    }
  }
}
