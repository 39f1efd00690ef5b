import { isHiveStorageError } from '@hive/errors'
import { DataDirMigrations } from '../data-dir-migrations.js'
import { fileSize } from '../file-size.js'
import { MaintenanceRunner } from '../maintenance/maintenance-runner.js'
import type { MaintenanceTask } from '../maintenance/maintenance-settings.js'
import type { HiveStore } from '../store.js'
import type { OperationInfo } from './operation-log.js'

/** What `hive status` reports. */
export interface StoreStatus {
  readonly dataDir: string
  readonly schema: {
    readonly current: string | null
    readonly latest: string | null
    readonly pending: number
  }
  readonly sizes: {
    readonly databaseBytes: number
    readonly walBytes: number
    readonly blobs: number
    readonly blobBytes: number
  }
  readonly maintenance: {
    readonly runner: {
      readonly holder: string
      readonly pid: number
      readonly host: string
      readonly expiresAt: number
      readonly alive: boolean
    } | null
    readonly tasks: ReadonlyArray<{
      readonly task: MaintenanceTask
      readonly enabled: boolean
      readonly lastRun: OperationInfo | null
      readonly dueAt: number
    }>
  }
  /** Operations running now (in any process), and those whose heartbeat stopped. */
  readonly running: readonly OperationInfo[]
  readonly abandoned: readonly OperationInfo[]
  /** Failed maintenance runs and problems found by periodic checks: they need attention. */
  readonly problems: ReadonlyArray<{ readonly operation: OperationInfo; readonly summary: string }>
  /** Commands that failed in the last day (for information). */
  readonly recentFailures: ReadonlyArray<{ readonly operation: OperationInfo; readonly summary: string }>
}

/**
 * The status of a data directory, as `hive status` shows it: schema version, sizes, the
 * maintenance runner and the last run of each task, operations in progress in any process
 * (and abandoned ones), and recent failures or problems found by periodic checks.
 */
export async function storeStatus(store: HiveStore): Promise<StoreStatus> {
  const migrations = DataDirMigrations.open({ dataDir: store.layout.root, readonly: true })
  let schema: StoreStatus['schema']
  try {
    const status = await migrations.status()
    schema = { current: status.current, latest: status.latest, pending: status.pending.length }
  } finally {
    migrations.close()
  }
  const sqlite = store.database.sqlite
  const blobRow = sqlite
    .prepare('SELECT count(*) AS n, coalesce(sum(stored_size), 0) AS b FROM blobs')
    .get() as {
    n: number
    b: number
  }
  const runner = new MaintenanceRunner(store)
  const lease = sqlite.prepare("SELECT * FROM leases WHERE name = 'maintenance'").get() as
    | { holder: string; pid: number; host: string; expires_at: number }
    | undefined
  const now = Date.now()
  const recent = store.operations.list({ limit: 200 })
  // Problems that need attention (they make `hive status` exit 1): the latest run of a
  // maintenance task failed, or the periodic check found something. A runner error counts until
  // a task runs after it. Failures of commands someone ran are shown for a day, for information.
  const problems: Array<{ operation: OperationInfo; summary: string }> = []
  const recentFailures: Array<{ operation: OperationInfo; summary: string }> = []
  const latestOfKind = new Set<string>()
  const lastTaskRun = Math.max(
    0,
    ...recent
      .filter((op) => op.kind.startsWith('maintenance.') && op.kind !== 'maintenance.runner')
      .map((op) => op.startedAt),
  )
  for (const operation of recent) {
    if (latestOfKind.has(operation.kind) || operation.status === 'running') continue
    latestOfKind.add(operation.kind)
    const summary = `${operation.error?.message ?? 'failed'} [${operation.error?.code ?? '?'}]`
    const maintenance = operation.kind.startsWith('maintenance.')
    if (operation.status === 'failed') {
      if (operation.kind === 'maintenance.runner' && operation.startedAt < lastTaskRun) continue
      if (maintenance) problems.push({ operation, summary })
      else if (operation.startedAt > now - 24 * 60 * 60 * 1000) recentFailures.push({ operation, summary })
    }
    const result = operation.result as { ok?: boolean; problems?: unknown[]; quickCheck?: unknown[] } | null
    if (operation.kind === 'maintenance.integrity' && result && result.ok === false)
      problems.push({
        operation,
        summary: `the periodic check found ${(result.problems?.length ?? 0) + (result.quickCheck?.length ?? 0)} problems: run \`hive check\``,
      })
  }
  // A schedule edited by hand into nonsense is a problem to show, not a reason to show nothing.
  let schedule: StoreStatus['maintenance']['tasks'] = []
  try {
    schedule = runner.schedule()
  } catch (error) {
    if (!isHiveStorageError(error)) throw error
    const last = store.operations.list({ kind: 'maintenance.runner', limit: 1 })[0]
    if (last?.status !== 'failed')
      problems.push({
        operation: {
          id: '',
          kind: 'maintenance.settings',
          status: 'failed',
          phase: null,
          done: null,
          total: null,
          bytes: null,
          pid: process.pid,
          host: '',
          startedAt: now,
          heartbeatAt: now,
          finishedAt: now,
          estimatedRemainingMs: null,
          result: null,
          error: { code: error.code, message: error.message },
        },
        summary: `${error.message} [${error.code}]`,
      })
  }
  return {
    dataDir: store.layout.root,
    schema,
    sizes: {
      databaseBytes: fileSize(store.layout.database),
      walBytes: fileSize(`${store.layout.database}-wal`),
      blobs: blobRow.n,
      blobBytes: blobRow.b,
    },
    maintenance: {
      runner: lease
        ? {
            holder: lease.holder,
            pid: lease.pid,
            host: lease.host,
            expiresAt: lease.expires_at,
            alive: lease.expires_at > now,
          }
        : null,
      tasks: schedule,
    },
    running: recent.filter((op) => op.status === 'running'),
    abandoned: recent.filter((op) => op.status === 'abandoned'),
    problems,
    recentFailures,
  }
}
