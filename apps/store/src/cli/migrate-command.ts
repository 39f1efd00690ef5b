import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { hiveMigrations, type MigrationRunResult, type MigrationStatus } from '@hive/migrations'
import type { Command } from 'commander'
import { refuseIfDamaged } from '../damage-marker.js'
import { dataDirLayout } from '../data-dir.js'
import { DataDirMigrations } from '../data-dir-migrations.js'
import { trackOnDataDir } from '../operations/track-operation.js'
import type { SnapshotInfo } from '../snapshot-store.js'
import type { CliIo } from './cli-io.js'
import { action, type CliState, command, wholeNumber } from './context.js'
import { bytes, table, time } from './format.js'

export interface MigrateArgs {
  readonly action: 'up' | 'status' | 'down' | 'verify' | 'restore' | 'snapshots'
  readonly dataDir: string
  /** The data directory is the platform default: `up` may create it. */
  readonly defaultDir: boolean
  readonly json: boolean
  readonly to?: string
  readonly steps?: number
  readonly dryRun: boolean
  readonly rebaseline: boolean
  readonly snapshot?: string
  readonly keepSnapshots?: number
}

/** `hive migrate …`: returns the exit code. */
export async function migrateCommand(args: MigrateArgs, io: CliIo): Promise<number> {
  const out = (text: string) => io.stdout(`${text}\n`)
  const json = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`)
  if (args.action === 'restore') {
    // Restoring must work when the database itself is damaged: it never opens it normally.
    const report = await DataDirMigrations.restore({
      dataDir: args.dataDir,
      now: io.now,
      ...(args.snapshot === undefined ? {} : { snapshot: args.snapshot }),
      ...(args.keepSnapshots === undefined ? {} : { keepSnapshots: args.keepSnapshots }),
    })
    if (args.json)
      json({
        restored: report.restored,
        safety: report.safety,
        quarantined: report.quarantined,
        ...serialiseStatus(report.status),
      })
    else {
      out(`restored ${report.restored.name} (${bytes(report.restored.bytes)})`)
      if (report.safety) out(`the database as it was before is in snapshots/${report.safety.name}`)
      for (const path of report.quarantined) out(`the damaged database file was moved to ${path}`)
      out(`schema version now ${report.status.current ?? 'none (empty database)'}`)
    }
    return 0
  }
  if (args.to !== undefined) {
    // Checked before anything is opened or created.
    const known = (await hiveMigrations.getMigrations()).map((m) => m.name)
    if (!known.includes(args.to)) {
      throw new HiveStorageError(
        'UNKNOWN_MIGRATION',
        `there is no migration named ${JSON.stringify(args.to)}`,
        { value: args.to },
      )
    }
  }
  // Migrating writes: never to a database a check found damaged.
  if ((args.action === 'up' || args.action === 'down') && !args.dryRun)
    refuseIfDamaged(dataDirLayout(args.dataDir).root)
  const migrations = DataDirMigrations.open({
    dataDir: args.dataDir,
    createDatabase: args.action === 'up' && !args.dryRun,
    createDirectory: args.defaultDir,
    memoryIfMissing: args.dryRun,
    now: io.now,
    ...(args.keepSnapshots === undefined ? {} : { keepSnapshots: args.keepSnapshots }),
  })
  try {
    switch (args.action) {
      case 'status': {
        const status = await migrations.status()
        if (args.json) json({ dataDir: migrations.layout.root, ...serialiseStatus(status) })
        else out(describeStatus(migrations.layout.root, status))
        return status.problems.length > 0 ? 1 : 0
      }
      case 'verify': {
        const report = await migrations.verify()
        if (args.json) json({ ok: report.ok, ...serialiseStatus(report.status), schema: report.schema })
        else {
          for (const problem of report.status.problems) out(`problem: ${problem.message}`)
          for (const difference of report.schema) out(`schema: ${difference.object} is ${difference.problem}`)
          if (report.ok) {
            out(
              `ok: ${report.status.entries.filter((e) => e.state === 'applied').length} applied migration(s) match their sources, and the schema matches ${report.status.current ?? 'an empty database'}`,
            )
          }
        }
        return report.ok ? 0 : 1
      }
      case 'up':
      case 'down': {
        const run = () =>
          args.action === 'up'
            ? migrations.up({
                ...(args.to === undefined ? {} : { to: args.to }),
                dryRun: args.dryRun,
                rebaseline: args.rebaseline,
              })
            : migrations.down({
                ...(args.steps === undefined ? {} : { steps: args.steps }),
                dryRun: args.dryRun,
              })
        // Recorded as an operation when it ends (the table itself may come with this migration).
        let outcome: MigrationRunResult | undefined
        if (args.dryRun) outcome = await run()
        else {
          try {
            await trackOnDataDir(
              migrations.layout.database,
              `migrate.${args.action}`,
              async () => {
                outcome = await run()
                if (outcome.error) throw outcome.error
                return outcome
              },
              (done) => ({ from: done.from, to: done.to, migrations: done.results.length }),
              {
                atEnd: true,
                // Refusals change nothing, the record included.
                recordFailure: (error) =>
                  !isHiveStorageError(
                    error,
                    'DATABASE_TOO_NEW',
                    'MIGRATION_MODIFIED',
                    'MIGRATION_MISSING',
                    'NOT_A_HIVE_DATABASE',
                    'NOT_A_DATABASE',
                    'DATABASE_CORRUPT',
                  ),
              },
            )
          } catch (error) {
            if (!outcome) throw error
          }
        }
        const result = outcome as MigrationRunResult
        if (args.json) json(serialiseRun(result))
        else out(describeRun(migrations.layout.root, result))
        if (result.error) throw result.error
        return 0
      }
      case 'snapshots': {
        const list = migrations.snapshots.list()
        if (args.json) json(list)
        else if (list.length === 0) out(`no snapshots in ${migrations.layout.snapshots}`)
        else out(describeSnapshots(list))
        return 0
      }
    }
  } finally {
    migrations.close()
  }
}

function serialiseStatus(status: MigrationStatus) {
  return {
    current: status.current,
    latest: status.latest,
    pending: status.pending,
    migrations: status.entries,
    problems: status.problems.map((problem) => problem.toJSON()),
  }
}

function serialiseRun(result: MigrationRunResult) {
  return {
    ...result,
    error: result.error?.toJSON(),
    results: result.results.map((r) => ({ ...r, error: r.error?.toJSON() })),
  }
}

function describeStatus(dataDir: string, status: MigrationStatus): string {
  const lines = [
    `data directory  ${dataDir}`,
    `schema version  ${status.current ?? 'none (empty database)'}${status.latest && status.latest !== status.current ? ` (latest: ${status.latest})` : ''}`,
    '',
    table(
      [
        ['STATE', 'MIGRATION', 'APPLIED', 'TOOK'],
        ...status.entries.map((e) => [
          e.state,
          e.name,
          time(e.appliedAt),
          e.durationMs === null ? '' : `${e.durationMs} ms`,
        ]),
      ],
      { head: true },
    ),
  ]
  if (status.pending.length > 0 && status.problems.length === 0) {
    lines.push('', `${status.pending.length} pending: run \`hive migrate\` to apply`)
  }
  for (const problem of status.problems) lines.push('', `problem: ${problem.message}`)
  return lines.join('\n')
}

function describeRun(dataDir: string, result: MigrationRunResult): string {
  const lines: string[] = []
  if (result.dryRun) {
    lines.push(`-- dry run on ${dataDir}: nothing was changed`)
    for (const r of result.results) lines.push(`-- ${r.name} (${r.direction}) ${r.outcome}`, ...r.sql, '')
  } else {
    const snapshot = result.beforeChange as SnapshotInfo | null | undefined
    if (snapshot) lines.push(`snapshot  snapshots/${snapshot.name}`)
    if (result.results.length > 0) {
      lines.push(
        table(
          result.results.map((r) => [
            r.outcome,
            r.name,
            r.outcome === 'not-run' || r.outcome === 'skipped' ? '' : `${r.durationMs} ms`,
          ]),
        ),
      )
    }
  }
  if (result.ok) {
    const moved = result.from !== result.to
    lines.push(
      `schema version ${result.to ?? 'none (empty database)'}${moved || result.dryRun ? '' : ' (nothing to do)'}`,
    )
  }
  return lines.join('\n')
}

function describeSnapshots(list: readonly SnapshotInfo[]): string {
  return table(
    [
      ['SNAPSHOT', 'KIND', 'VERSION', 'SIZE'],
      ...list.map((s) => [s.name, s.kind, s.version, bytes(s.bytes)]),
    ],
    { head: true },
  )
}

const ACTIONS = ['up', 'status', 'down', 'verify', 'restore', 'snapshots'] as const

/** Only some options make sense for each action; anything else is a usage error, not ignored. */
const ALLOWED: Record<(typeof ACTIONS)[number], readonly string[]> = {
  up: ['to', 'dryRun', 'rebaseline', 'keepSnapshots'],
  down: ['steps', 'dryRun', 'keepSnapshots'],
  status: [],
  verify: [],
  restore: ['snapshot', 'keepSnapshots'],
  snapshots: [],
}
const FLAGS: Record<string, string> = {
  to: '--to',
  dryRun: '--dry-run',
  rebaseline: '--rebaseline',
  keepSnapshots: '--keep-snapshots',
  steps: '--steps',
  snapshot: '--snapshot',
}

interface MigrateOptions {
  to?: string
  steps?: string
  dryRun?: boolean
  rebaseline?: boolean
  snapshot?: string
  keepSnapshots?: string
}

/** `hive migrate [action]`. */
export function registerMigrate(program: Command, state: CliState): void {
  command(program, 'migrate', 'apply, inspect, revert or restore schema migrations (snapshotting first)')
    .argument('[action]', `one of ${ACTIONS.join(', ')}`, 'up')
    .option('--to <name>', 'up: stop at this migration')
    .option('--steps <n>', 'down: revert the last N migrations (default 1)')
    .option('--dry-run', 'up/down: show the SQL, change nothing')
    .option('--rebaseline', 'up: accept changed sources of applied migrations')
    .option('--snapshot <name>', 'restore: the snapshot (default: the latest pre-migration one)')
    .option('--keep-snapshots <n>', 'pre-migration snapshots to keep (default 5)')
    .addHelpText(
      'after',
      `
Actions:
  up         apply pending migrations (the default)
  status     applied / pending / modified / missing migrations
  down       revert the last N migrations
  verify     check applied migrations against their sources and the live schema
  restore    bring the database back to a snapshot; the current state is snapshotted first
  snapshots  list snapshots`,
    )
    .action(
      action<MigrateOptions>(state, async (context, options, [given]) => {
        const name = given ?? 'up'
        if (!(ACTIONS as readonly string[]).includes(name)) {
          throw new HiveStorageError(
            'INVALID_INPUT',
            `unknown migrate action ${JSON.stringify(name)} (see \`hive migrate --help\`)`,
            { value: name },
          )
        }
        const act = name as (typeof ACTIONS)[number]
        const misplaced = Object.keys(FLAGS).filter(
          (key) => options[key as keyof MigrateOptions] !== undefined && !ALLOWED[act].includes(key),
        )
        if (misplaced[0]) {
          throw new HiveStorageError(
            'INVALID_INPUT',
            `${FLAGS[misplaced[0]]} does not apply to \`hive migrate ${act}\``,
            { value: misplaced },
          )
        }
        const steps = wholeNumber('--steps', options.steps, 1)
        const keepSnapshots = wholeNumber('--keep-snapshots', options.keepSnapshots, 0)
        return migrateCommand(
          {
            action: act,
            dataDir: context.dataDir.path,
            defaultDir: context.dataDir.isDefault,
            json: context.json,
            dryRun: options.dryRun === true,
            rebaseline: options.rebaseline === true,
            ...(options.to === undefined ? {} : { to: options.to }),
            ...(steps === undefined ? {} : { steps }),
            ...(options.snapshot === undefined ? {} : { snapshot: options.snapshot }),
            ...(keepSnapshots === undefined ? {} : { keepSnapshots }),
          },
          context.io,
        )
      }),
    )
}
