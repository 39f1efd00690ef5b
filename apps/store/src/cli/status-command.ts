import { HiveStorageError } from '@hive/errors'
import type { Command } from 'commander'
import { MaintenanceRunner } from '../maintenance/maintenance-runner.js'
import {
  MAINTENANCE_TASKS,
  type MaintenanceSettings,
  type MaintenanceSettingsPatch,
  type MaintenanceTask,
  parseDuration,
  readMaintenanceSettings,
  writeMaintenanceSettings,
} from '../maintenance/maintenance-settings.js'
import type { OperationInfo } from '../operations/operation-log.js'
import { type StoreStatus, storeStatus } from '../operations/store-status.js'
import type { HiveStore } from '../store.js'
import {
  action,
  byteSize,
  type CliContext,
  type CliState,
  command,
  wholeNumber,
  withStore,
} from './context.js'
import { bytes, table, time } from './format.js'

/** `hive status [--watch]` and `hive maintenance show | set | run`. */
export function registerStatus(program: Command, state: CliState): void {
  command(program, 'status', 'schema, sizes, maintenance runs and operations in progress (of every process)')
    .option('--watch', 'follow operations live (Ctrl-C to stop)')
    .option('--interval <ms>', 'refresh period of --watch (default 1000)')
    .option('--until-idle', 'with --watch: stop once no operation is running')
    .action(
      action<{ watch?: boolean; interval?: string; untilIdle?: boolean }>(state, async (context, options) => {
        const interval = wholeNumber('--interval', options.interval, 50) ?? 1000
        const store = await context.openStore()
        try {
          if (!options.watch) {
            const status = await storeStatus(store)
            if (context.json) context.printJson(status)
            else context.out(describeStatus(status))
            return status.problems.length > 0 ? 1 : 0
          }
          return await watch(context, store, interval, options.untilIdle === true)
        } finally {
          await store.close()
        }
      }),
    )

  const maintenance = program
    .command('maintenance')
    .description('the background maintenance schedule, and running a task now')
  command(maintenance, 'show', 'the schedule in force, and when each task ran and is due').action(
    action(state, (context) =>
      withStore(context, async (store) => {
        const settings = readMaintenanceSettings(store)
        const schedule = new MaintenanceRunner(store).schedule()
        if (context.json) context.printJson({ settings, schedule })
        else context.out(describeSchedule(settings, schedule))
        return 0
      }),
    ),
  )
  const set = command(
    maintenance,
    'set',
    'change the schedule (durations like 90s, 15m, 6h, 7d; "default" resets)',
  )
  for (const [flag, key] of SETTING_FLAGS) set.option(`--${flag} <value>`, describeFlag(key))
  set.option(
    '--disable <task...>',
    `tasks that never run (${MAINTENANCE_TASKS.join(', ')}); "none" enables all`,
  )
  set.action(
    action<Record<string, string | string[] | undefined>>(state, (context, options) =>
      withStore(context, async (store) => {
        const patch: Record<string, unknown> = {}
        for (const [flag, key] of SETTING_FLAGS) {
          const value = options[camel(flag)] as string | undefined
          if (value === undefined) continue
          patch[key] =
            value === 'default'
              ? null
              : key === 'walLimitBytes'
                ? byteSize(`--${flag}`, value)
                : key === 'blobsPerCheck'
                  ? wholeNumber(`--${flag}`, value, 0)
                  : parseDuration(`--${flag}`, value)
        }
        if (options.disable !== undefined) {
          const tasks = options.disable as string[]
          patch.disabled = tasks.length === 1 && tasks[0] === 'none' ? null : tasks
        }
        if (Object.keys(patch).length === 0) {
          throw new HiveStorageError('INVALID_INPUT', 'nothing to set (see `hive maintenance set --help`)')
        }
        const settings = writeMaintenanceSettings(store, patch as MaintenanceSettingsPatch, context.io.now())
        if (context.json) context.printJson(settings)
        else context.out(describeSchedule(settings, new MaintenanceRunner(store).schedule()))
        return 0
      }),
    ),
  )
  command(maintenance, 'run', 'run maintenance tasks now, whatever their schedule')
    .argument('[task...]', `tasks (${MAINTENANCE_TASKS.join(', ')}); all by default`)
    .action(
      action(state, (context, _options, tasks) =>
        withStore(context, async (store) => {
          for (const task of tasks)
            if (!(MAINTENANCE_TASKS as readonly string[]).includes(task))
              throw new HiveStorageError(
                'INVALID_INPUT',
                `unknown maintenance task ${JSON.stringify(task)} (one of ${MAINTENANCE_TASKS.join(', ')})`,
                { value: task },
              )
          const runner = new MaintenanceRunner(store)
          const runs: OperationInfo[] = []
          // Named tasks run whatever the schedule says; all of them means the enabled ones.
          const disabled = readMaintenanceSettings(store).disabled
          const chosen =
            tasks.length > 0 ? tasks : MAINTENANCE_TASKS.filter((task) => !disabled.includes(task))
          await runner.whileLeader(async () => {
            for (const task of chosen as MaintenanceTask[]) {
              const bar = context.progress(task)
              try {
                runs.push(await runner.runTask(task, { onProgress: bar.listener }))
              } finally {
                bar.stop()
              }
            }
          })
          if (context.json) context.printJson({ runs })
          else
            context.out(
              table(
                [
                  ['TASK', 'OUTCOME', 'TOOK', 'FIGURES'],
                  ...runs.map((run) => [
                    run.kind.replace('maintenance.', ''),
                    outcome(run),
                    took(run),
                    figures(run),
                  ]),
                ],
                { head: true },
              ),
            )
          return runs.every(
            (run) => run.status === 'succeeded' && (run.result as { ok?: boolean } | null)?.ok !== false,
          )
            ? 0
            : 1
        }),
      ),
    )
}

const SETTING_FLAGS: ReadonlyArray<readonly [string, keyof MaintenanceSettings]> = [
  ['checkpoint-every', 'checkpointEveryMs'],
  ['wal-limit', 'walLimitBytes'],
  ['integrity-every', 'integrityEveryMs'],
  ['verify-all-within', 'verifyAllBlobsWithinMs'],
  ['blobs-per-check', 'blobsPerCheck'],
  ['retention-every', 'retentionEveryMs'],
  ['gc-every', 'gcEveryMs'],
  ['gc-grace', 'gcGraceMs'],
  ['vacuum-every', 'vacuumEveryMs'],
  ['fts-optimize-every', 'ftsOptimizeEveryMs'],
]

function describeFlag(key: keyof MaintenanceSettings): string {
  if (key === 'walLimitBytes') return 'checkpoint with truncation past this WAL size (e.g. 64MiB)'
  if (key === 'blobsPerCheck') return 'blobs verified per integrity run, at least'
  if (key === 'verifyAllBlobsWithinMs') return 'every blob verified within this period'
  if (key === 'gcGraceMs') return 'unreferenced blobs younger than this stay'
  return `interval of ${key.replace(/EveryMs$/, '')}`
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
}

async function watch(
  context: CliContext,
  store: HiveStore,
  interval: number,
  untilIdle: boolean,
): Promise<number> {
  let stop = false
  let wake: (() => void) | undefined
  // Ctrl-C ends the watch at once (not after the current interval), with exit code 0.
  const onSignal = () => {
    stop = true
    wake?.()
  }
  process.once('SIGINT', onSignal)
  try {
    while (!stop) {
      const status = await storeStatus(store)
      const live = [...status.running, ...status.abandoned]
      if (context.json)
        context.io.stdout(
          `${JSON.stringify({ at: Date.now(), running: status.running, abandoned: status.abandoned })}\n`,
        )
      else {
        const lines = live.length === 0 ? ['no operation in progress'] : live.map(describeLive)
        // On a terminal each frame replaces the last (cursor home, clear screen); piped, they follow.
        if (context.io.terminal) context.io.stdout('\x1b[H\x1b[2J')
        context.out(`hive status --watch (Ctrl-C to stop)  ${time(Date.now())}\n${lines.join('\n')}\n`)
      }
      if (untilIdle && status.running.length === 0) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, interval)
        wake = () => {
          clearTimeout(timer) // nothing keeps the process alive after Ctrl-C
          resolve()
        }
      })
    }
    return 0
  } finally {
    process.off('SIGINT', onSignal)
  }
}

function describeLive(op: OperationInfo): string {
  const progress =
    op.total !== null && op.done !== null
      ? `${op.done}/${op.total} (${op.total > 0 ? Math.floor((100 * op.done) / op.total) : 100}%)`
      : op.done !== null
        ? String(op.done)
        : ''
  const eta =
    op.estimatedRemainingMs !== null ? `, about ${Math.ceil(op.estimatedRemainingMs / 1000)} s left` : ''
  const where = `pid ${op.pid} on ${op.host}`
  return op.status === 'abandoned'
    ? `  ${op.kind} ${op.id}: ABANDONED (no heartbeat since ${time(op.heartbeatAt)}; ${where})`
    : `  ${op.kind} ${op.id}: ${op.phase ?? 'starting'} ${progress}${op.bytes ? ` ${bytes(op.bytes)}` : ''}${eta} (${where}, since ${time(op.startedAt)})`
}

function outcome(run: OperationInfo): string {
  if (run.status === 'failed') return `failed: ${run.error?.message ?? ''} [${run.error?.code ?? ''}]`
  if ((run.result as { ok?: boolean } | null)?.ok === false) return 'problems found'
  return run.status
}

function took(run: OperationInfo): string {
  return run.finishedAt === null ? '' : `${run.finishedAt - run.startedAt} ms`
}

function figures(run: OperationInfo): string {
  if (run.result === null || typeof run.result !== 'object') return ''
  return Object.entries(run.result as Record<string, unknown>)
    .filter(
      ([, value]) => typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean',
    )
    .slice(0, 5)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')
}

function describeSchedule(
  settings: MaintenanceSettings,
  schedule: ReturnType<MaintenanceRunner['schedule']>,
): string {
  const every = (ms: number) =>
    ms % 86_400_000 === 0
      ? `${ms / 86_400_000}d`
      : ms % 3_600_000 === 0
        ? `${ms / 3_600_000}h`
        : ms % 60_000 === 0
          ? `${ms / 60_000}m`
          : `${ms / 1000}s`
  const intervals: Record<MaintenanceTask, number> = {
    checkpoint: settings.checkpointEveryMs,
    integrity: settings.integrityEveryMs,
    retention: settings.retentionEveryMs,
    gc: settings.gcEveryMs,
    vacuum: settings.vacuumEveryMs,
    'fts-optimize': settings.ftsOptimizeEveryMs,
  }
  return [
    table(
      [
        ['TASK', 'EVERY', 'LAST RUN', 'OUTCOME', 'NEXT'],
        ...schedule.map((entry) => [
          entry.task,
          entry.enabled ? every(intervals[entry.task]) : 'disabled',
          entry.lastRun ? time(entry.lastRun.startedAt) : 'never',
          entry.lastRun ? outcome(entry.lastRun) : '',
          entry.enabled ? (entry.dueAt === 0 ? 'when the runner starts' : time(entry.dueAt)) : '',
        ]),
      ],
      { head: true },
    ),
    `WAL limit ${bytes(settings.walLimitBytes)}; every blob verified within ${every(settings.verifyAllBlobsWithinMs)} (at least ${settings.blobsPerCheck} per check); gc grace ${every(settings.gcGraceMs)}`,
  ].join('\n')
}

function describeStatus(status: StoreStatus): string {
  const lines = [
    `data directory ${status.dataDir}`,
    `schema ${status.schema.current ?? 'empty'}${status.schema.pending > 0 ? ` (${status.schema.pending} migrations pending: run \`hive migrate\`)` : ' (up to date)'}`,
    `database ${bytes(status.sizes.databaseBytes)}, WAL ${bytes(status.sizes.walBytes)}, ${status.sizes.blobs} blobs ${bytes(status.sizes.blobBytes)}`,
    status.maintenance.runner
      ? `maintenance runner: ${status.maintenance.runner.alive ? '' : 'GONE (lease expired) '}pid ${status.maintenance.runner.pid} on ${status.maintenance.runner.host}`
      : 'maintenance runner: none (the Hive server runs one; `hive maintenance run` runs the tasks now)',
    '',
    table(
      [
        ['TASK', 'LAST RUN', 'OUTCOME', 'TOOK'],
        ...status.maintenance.tasks.map((entry) => [
          entry.task,
          entry.lastRun ? time(entry.lastRun.startedAt) : 'never',
          entry.lastRun ? outcome(entry.lastRun) : '',
          entry.lastRun ? took(entry.lastRun) : '',
        ]),
      ],
      { head: true },
    ),
    '',
  ]
  if (status.running.length + status.abandoned.length === 0) lines.push('no operation in progress')
  else {
    lines.push('operations:')
    for (const op of [...status.running, ...status.abandoned]) lines.push(describeLive(op))
  }
  for (const failure of status.recentFailures)
    lines.push(
      `failed: ${failure.operation.kind} at ${time(failure.operation.startedAt)}: ${failure.summary}`,
    )
  for (const problem of status.problems)
    lines.push(
      `PROBLEM: ${problem.operation.kind} at ${time(problem.operation.startedAt)}: ${problem.summary}`,
    )
  return lines.join('\n')
}
