import { HiveStorageError, isHiveStorageError } from '@hive/errors'
import { Command, CommanderError } from 'commander'
import { registerBackup } from './backup-command.js'
import { registerBundle } from './bundle-command.js'
import { type CliIo, processIo } from './cli-io.js'
import type { CliState } from './context.js'
import { registerDemo } from './demo-command.js'
import { oneLine } from './format.js'
import { registerIntegrity } from './integrity-command.js'
import { registerMaintenance } from './maintenance-command.js'
import { registerMigrate } from './migrate-command.js'
import { registerImportOpencode } from './opencode-command.js'
import { registerStatus } from './status-command.js'

/** Exit codes: what `hive` returns, whatever the command. */
export const EXIT = {
  /** Done; for checks: nothing wrong found. */
  ok: 0,
  /** Failed, or a check found problems (the message or report says which). */
  failure: 1,
  /** Invalid usage: an unknown command or option, a malformed value. */
  usage: 2,
} as const

const USAGE_CODES = new Set(['INVALID_INPUT', 'UNKNOWN_MIGRATION'])

/** Every command, registered on the program (the order is the help's). */
const COMMANDS: ReadonlyArray<(program: Command, state: CliState) => void> = [
  registerDemo,
  registerMigrate,
  registerMaintenance,
  registerBundle,
  registerImportOpencode,
  registerBackup,
  registerIntegrity,
  registerStatus,
]

export function program(state: CliState): Command {
  const io = state.io
  const root = new Command('hive')
    .description(
      'Hive storage: the data of Hive cells (transcripts, artifacts, plans, events) in one data directory.',
    )
    .option(
      '--data-dir <dir>',
      'the data directory (default: $HIVE_DATA_DIR, else the platform data directory, e.g. ~/.local/share/hive)',
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Hive creates its default data directory on first use; a directory you name must exist.
Exit codes: 0 success, 1 failure or problems found, 2 invalid usage.`,
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: () => {},
      outputError: () => {},
    })
  for (const register of COMMANDS) register(root, state)
  // Every subcommand: same output, same error handling, no silent surplus arguments.
  for (const sub of root.commands) {
    sub
      .exitOverride()
      .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: () => {}, outputError: () => {} })
    sub.allowExcessArguments(false)
    for (const nested of sub.commands) {
      nested
        .exitOverride()
        .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: () => {}, outputError: () => {} })
      nested.allowExcessArguments(false)
    }
  }
  return root
}

/**
 * The `hive` command line. Returns the exit code; prints results to stdout and each error as one
 * line (`hive: <what went wrong> [CODE]`) to stderr.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const state: CliState = { io, code: EXIT.ok }
  const root = program(state)
  if (argv.length === 0) {
    io.stdout(root.helpInformation())
    return EXIT.usage
  }
  try {
    await root.parseAsync([...argv], { from: 'user' })
    return state.code
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.help' ||
        error.code === 'commander.version'
      )
        return EXIT.ok
    }
    const json = argv.includes('--json')
    const failure = isHiveStorageError(error)
      ? error
      : error instanceof CommanderError
        ? new HiveStorageError(
            'INVALID_INPUT',
            `${error.message.replace(/^error: /, '')} (see \`hive help\`)`,
          )
        : new HiveStorageError('INTERNAL', (error as Error)?.message ?? String(error), { cause: error })
    if (json) io.stdout(`${JSON.stringify({ ok: false, error: failure.toJSON() }, null, 2)}\n`)
    io.stderr(`hive: ${oneLine(failure.message)} [${failure.code}]\n`)
    return USAGE_CODES.has(failure.code) ? EXIT.usage : EXIT.failure
  }
}
