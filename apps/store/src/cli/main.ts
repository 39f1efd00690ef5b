import { parseArgs } from 'node:util'
import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { defaultDataDir } from '../data-dir.js'
import { type CliIo, processIo } from './cli-io.js'
import { oneLine } from './format.js'
import { type MigrateArgs, migrateCommand, wholeNumber } from './migrate-command.js'

export const USAGE = `Usage: hive [--data-dir DIR] <command> [options]

Commands:
  migrate [up] [--to NAME] [--dry-run] [--rebaseline]
                           apply pending migrations (snapshotting the database first)
  migrate status           applied / pending / modified / missing migrations
  migrate down [--steps N] [--dry-run]
                           revert the last N migrations (default 1)
  migrate verify           check applied migrations against their sources and the schema
  migrate restore [--snapshot NAME]
                           bring the database back to a snapshot (default: the latest
                           pre-migration one); the current state is snapshotted first
  migrate snapshots        list snapshots
  help                     show this text

Options:
  --data-dir DIR           the data directory (default: $HIVE_DATA_DIR, else the platform's
                           data directory, e.g. ~/.local/share/hive). Hive creates its default
                           directory on first use; a directory you name must exist.
  --json                   machine-readable output
  --keep-snapshots N       pre-migration snapshots to keep (default 5)

Exit codes: 0 success, 1 failure or problems found, 2 invalid usage.`

const ACTIONS = ['up', 'status', 'down', 'verify', 'restore', 'snapshots'] as const

/** Only some options make sense for each action; anything else is a usage error, not ignored. */
const ALLOWED: Record<(typeof ACTIONS)[number], readonly string[]> = {
  up: ['to', 'dry-run', 'rebaseline', 'keep-snapshots'],
  down: ['steps', 'dry-run', 'keep-snapshots'],
  status: [],
  verify: [],
  restore: ['snapshot', 'keep-snapshots'],
  snapshots: [],
}

/**
 * The `hive` command line. Returns the exit code; prints results to stdout and each error as one
 * line (`hive: <what went wrong> [CODE]`) to stderr.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let json = false
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'data-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
        to: { type: 'string' },
        steps: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        rebaseline: { type: 'boolean', default: false },
        snapshot: { type: 'string' },
        'keep-snapshots': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
    json = values.json
    const [command, ...rest] = positionals
    if (values.help || command === undefined || command === 'help') {
      io.stdout(`${USAGE}\n`)
      return command === undefined && !values.help ? 2 : 0
    }
    if (command !== 'migrate') {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `unknown command ${JSON.stringify(command)} (see \`hive help\`)`,
        { value: command },
      )
    }
    const action = (rest[0] ?? 'up') as (typeof ACTIONS)[number]
    if (!ACTIONS.includes(action) || rest.length > 1) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `unknown migrate action ${JSON.stringify(rest.join(' '))} (see \`hive help\`)`,
        {
          value: rest,
        },
      )
    }
    const given = Object.entries(values)
      .filter(
        ([name, value]) =>
          value !== undefined && value !== false && !['data-dir', 'json', 'help'].includes(name),
      )
      .map(([name]) => name)
    const misplaced = given.filter((name) => !ALLOWED[action].includes(name))
    if (misplaced.length > 0) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `--${misplaced[0]} does not apply to \`hive migrate ${action}\``,
        {
          value: misplaced,
        },
      )
    }
    const fallback = defaultDataDir(io.env)
    const dataDir = values['data-dir'] ?? fallback.path
    const steps = wholeNumber('--steps', values.steps, 1)
    const keepSnapshots = wholeNumber('--keep-snapshots', values['keep-snapshots'], 0)
    const args: MigrateArgs = {
      action,
      dataDir,
      defaultDir: values['data-dir'] === undefined && !fallback.explicit,
      json,
      dryRun: values['dry-run'],
      rebaseline: values.rebaseline,
      ...(values.to === undefined ? {} : { to: values.to }),
      ...(steps === undefined ? {} : { steps }),
      ...(values.snapshot === undefined ? {} : { snapshot: values.snapshot }),
      ...(keepSnapshots === undefined ? {} : { keepSnapshots }),
    }
    return await migrateCommand(args, io)
  } catch (error) {
    const failure = isHiveStorageError(error)
      ? error
      : (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')
        ? new HiveStorageError('INVALID_INPUT', `${(error as Error).message} (see \`hive help\`)`)
        : new HiveStorageError('INTERNAL', (error as Error)?.message ?? String(error), { cause: error })
    if (json) io.stdout(`${JSON.stringify({ ok: false, error: failure.toJSON() }, null, 2)}\n`)
    io.stderr(`hive: ${oneLine(failure.message)} [${failure.code}]\n`)
    return failure.code === 'INVALID_INPUT' || failure.code === 'UNKNOWN_MIGRATION' ? 2 : 1
  }
}
