import { HiveStorageError } from '@hive/errors'
import cliProgress from 'cli-progress'
import type { Command } from 'commander'
import { defaultDataDir } from '../data-dir.js'
import type { ProgressListener } from '../progress.js'
import { type HiveStore, type OpenHiveStoreOptions, openHiveStore } from '../store.js'
import type { CliIo } from './cli-io.js'

/** What a command's action gets: its options, output helpers and the data directory. */
export interface CliContext {
  readonly io: CliIo
  /** `--json`: print one JSON document on stdout instead of text. */
  readonly json: boolean
  /** `--data-dir`, else `$HIVE_DATA_DIR`, else the platform's directory (`isDefault`). */
  readonly dataDir: { readonly path: string; readonly isDefault: boolean }
  out(text: string): void
  printJson(value: unknown): void
  /** A progress bar on the terminal (stderr), or nothing when output is not a terminal. */
  progress(label: string): { readonly listener: ProgressListener; stop(): void }
  /** Opens the data directory's store; the command closes it. */
  openStore(options?: Partial<Omit<OpenHiveStoreOptions, 'dataDir'>>): Promise<HiveStore>
}

/** A command's work: returns the exit code. */
export type CommandAction<O> = (context: CliContext, options: O, args: string[]) => Promise<number>

/** Shared between `main` and the commands: the exit code the action chose. */
export interface CliState {
  readonly io: CliIo
  code: number
}

/**
 * A subcommand with the options every command takes (`--data-dir`, and `--json` where `reads`),
 * so that they can be given before or after the command's name.
 */
export function command(
  parent: Command,
  name: string,
  description: string,
  options: { json?: boolean } = {},
) {
  const sub = parent.command(name).description(description).option('--data-dir <dir>', 'the data directory')
  if (options.json ?? true) sub.option('--json', 'machine-readable output')
  return sub
}

/** The action handler for commander: builds the context and records the exit code. */
export function action<O>(state: CliState, run: CommandAction<O>) {
  return async (...received: unknown[]) => {
    const cmd = received.at(-1) as Command
    const options = cmd.optsWithGlobals() as O & { dataDir?: string; json?: boolean }
    const args = received
      .slice(0, -2)
      .flat()
      .filter((a): a is string => typeof a === 'string')
    state.code = await run(contextOf(state.io, options), options, args)
  }
}

export function contextOf(io: CliIo, options: { dataDir?: string; json?: boolean }): CliContext {
  const fallback = defaultDataDir(io.env)
  const dataDir = {
    path: options.dataDir ?? fallback.path,
    isDefault: options.dataDir === undefined && !fallback.explicit,
  }
  const json = options.json === true
  return {
    io,
    json,
    dataDir,
    out: (text) => io.stdout(`${text}\n`),
    printJson: (value) => io.stdout(`${JSON.stringify(value, null, 2)}\n`),
    progress: (label) => {
      const stream = io.progress
      if (!stream) return { listener: () => {}, stop: () => {} }
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} [{bar}] {percentage}% {value}/{total} {phase}`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
      let started = false
      return {
        listener: (event) => {
          const total = event.total ?? Math.max(event.done, 1)
          if (!started) {
            bar.start(total, event.done, { phase: event.phase })
            started = true
          }
          bar.setTotal(total)
          bar.update(event.done, { phase: event.phase })
        },
        stop: () => {
          if (started) bar.stop()
        },
      }
    },
    openStore: (options = {}) =>
      openHiveStore({
        dataDir: dataDir.path,
        now: io.now,
        cache: false,
        ...options,
      }),
  }
}

/** Opens the data directory's store for `run`, and closes it whatever happens. */
export async function withStore(
  context: CliContext,
  run: (store: HiveStore) => Promise<number>,
): Promise<number> {
  const store = await context.openStore()
  try {
    return await run(store)
  } finally {
    await store.close()
  }
}

/** Parses `--steps` and friends: a whole number of at least `min`, or a usage error. */
export function wholeNumber(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d{1,9}$/.test(value) || Number(value) < min) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `${name} must be a whole number of at least ${min}, not ${JSON.stringify(value)}`,
      { value },
    )
  }
  return Number(value)
}

/** Parses a size such as `500MB`, `10GiB` or `1048576` (bytes), or a usage error. */
export function byteSize(name: string, value: string): number {
  const match = value.trim().match(/^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?$/i)
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    kib: 1024,
    mb: 1e6,
    mib: 1024 ** 2,
    gb: 1e9,
    gib: 1024 ** 3,
    tb: 1e12,
    tib: 1024 ** 4,
  }
  const bytes = match ? Math.round(Number(match[1]) * (units[(match[2] ?? 'b').toLowerCase()] ?? 1)) : NaN
  if (!Number.isSafeInteger(bytes)) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `${name} must be a size such as 500MB, 10GiB or a number of bytes, not ${JSON.stringify(value)}`,
      { value },
    )
  }
  return bytes
}

/** Parses a number (`7`, `0.5`), or a usage error; range checks belong to the operation. */
export function decimal(name: string, value: string): number {
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(value.trim())) {
    throw new HiveStorageError('INVALID_INPUT', `${name} must be a number, not ${JSON.stringify(value)}`, {
      value,
    })
  }
  return Number(value)
}
