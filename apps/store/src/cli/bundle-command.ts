import { HiveStorageError } from '@hive/errors'
import type { Command } from 'commander'
import { type ExportBundleResult, exportBundle } from '../bundle/export-bundle.js'
import {
  CONFLICT_POLICIES,
  type ConflictPolicy,
  type ImportBundleResult,
  importBundle,
} from '../bundle/import-bundle.js'
import { action, byteSize, type CliState, command, withStore } from './context.js'
import { bytes, table } from './format.js'

interface ExportOptions {
  cell: string[]
  workspace?: string
  output?: string
}

interface ImportOptions {
  onConflict: string
  maxEntrySize?: string
}

/** `hive export` and `hive import`: bundles of cells. */
export function registerBundle(program: Command, state: CliState): void {
  command(
    program,
    'export',
    'write cells (or a whole workspace) with their transcripts and artifacts to a bundle',
  )
    .option(
      '--cell <id>',
      'a cell to export (repeat for more)',
      (id: string, ids: string[]) => [...ids, id],
      [],
    )
    .option('--workspace <id>', 'every cell of a workspace')
    .option('-o, --output <file>', 'where to write the bundle (default: standard output)')
    .addHelpText(
      'after',
      `
A bundle is a standard tar file: manifest.json, rows/<table>.jsonl and the blob files.
Give --cell (once or more) or --workspace. With -o, the file appears only once complete.`,
    )
    .action(
      action<ExportOptions>(state, async (context, options) => {
        const cells = options.cell ?? []
        if (cells.length > 0 === (options.workspace !== undefined)) {
          throw new HiveStorageError(
            'INVALID_INPUT',
            'give --cell (once or more) or --workspace, not both and not neither',
            { value: { cell: cells, workspace: options.workspace } },
          )
        }
        const toStdout = options.output === undefined || options.output === '-'
        if (toStdout && context.json) {
          throw new HiveStorageError(
            'INVALID_INPUT',
            '--json needs -o FILE: standard output carries the bundle',
          )
        }
        if (toStdout && process.stdout.isTTY) {
          throw new HiveStorageError(
            'INVALID_INPUT',
            'not writing a bundle to a terminal: give -o FILE or redirect standard output',
          )
        }
        return withStore(context, async (store) => {
          const bar = context.progress('export')
          const result = await exportBundle(store, {
            ...(cells.length > 0 ? { cellIds: cells } : {}),
            ...(options.workspace === undefined ? {} : { workspaceId: options.workspace }),
            output: toStdout ? process.stdout : (options.output as string),
            end: !toStdout,
            onProgress: bar.listener,
          }).finally(bar.stop)
          if (context.json) context.printJson(result)
          else {
            // Standard output may be the bundle itself: the summary goes to standard error then.
            const summary = describeExport(result, toStdout ? 'standard output' : (options.output as string))
            if (toStdout) context.io.stderr(`${summary}\n`)
            else context.out(summary)
          }
          return 0
        })
      }),
    )

  command(program, 'import', 'import a bundle written by `hive export`, validating all of it first')
    .argument('<file>', 'the bundle (- for standard input)')
    .option('--on-conflict <policy>', `rows the store has already: ${CONFLICT_POLICIES.join(', ')}`, 'skip')
    .option('--max-entry-size <size>', 'refuse bundles with a larger entry, e.g. 500MB (default 4GiB)')
    .addHelpText(
      'after',
      `
On conflict:
  skip       keep the store's rows, add the others (importing again changes nothing)
  overwrite  replace the store's rows with the bundle's
  rename     import a copy: every cell and everything in it gets a fresh id
Nothing is written unless the whole bundle is valid; the rows go in one transaction.`,
    )
    .action(
      action<ImportOptions>(state, async (context, options, [file]) => {
        const policy = options.onConflict ?? 'skip'
        if (!(CONFLICT_POLICIES as readonly string[]).includes(policy)) {
          throw new HiveStorageError(
            'INVALID_INPUT',
            `--on-conflict must be one of ${CONFLICT_POLICIES.join(', ')}, not ${JSON.stringify(policy)}`,
            { value: policy },
          )
        }
        const maxEntryBytes =
          options.maxEntrySize === undefined ? undefined : byteSize('--max-entry-size', options.maxEntrySize)
        if (maxEntryBytes !== undefined && maxEntryBytes < 1) {
          throw new HiveStorageError('INVALID_INPUT', '--max-entry-size must be at least 1 byte', {
            value: options.maxEntrySize,
          })
        }
        return withStore(context, async (store) => {
          const bar = context.progress('import')
          const result = await importBundle(store, {
            input: file === undefined || file === '-' ? process.stdin : file,
            onConflict: policy as ConflictPolicy,
            ...(maxEntryBytes === undefined ? {} : { maxEntryBytes }),
            onProgress: bar.listener,
          }).finally(bar.stop)
          if (context.json) context.printJson(result)
          else context.out(describeImport(result))
          return 0
        })
      }),
    )
}

function describeExport(result: ExportBundleResult, where: string): string {
  const counts = Object.entries(result.counts)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${n} ${name}`)
    .join(', ')
  return [
    `exported ${result.cellIds.length} cell(s) to ${where} (${bytes(result.bytes)}, schema ${result.schemaVersion})`,
    `  rows: ${counts || 'none'}`,
    `  blobs: ${result.blobs} file(s), ${bytes(result.blobBytes)} as stored`,
  ].join('\n')
}

function describeImport(result: ImportBundleResult): string {
  const rows = Object.entries(result.tables)
    .filter(([, o]) => o.inserted + o.skipped + o.overwritten + o.renamed > 0)
    .map(([name, o]) => [
      name,
      String(o.inserted),
      String(o.skipped),
      String(o.overwritten),
      String(o.renamed),
    ])
  const lines = [
    `imported a bundle of schema ${result.schemaVersion} (on conflict: ${result.onConflict})`,
    '',
    rows.length > 0
      ? table([['TABLE', 'INSERTED', 'SKIPPED', 'OVERWRITTEN', 'RENAMED'], ...rows], { head: true })
      : '  no rows',
    '',
    `blobs: ${result.blobs.stored} stored, ${result.blobs.present} already present (${bytes(result.blobs.bytes)})`,
  ]
  const renamed = result.cells.filter((c) => c.bundleId !== c.id)
  for (const cell of renamed) lines.push(`cell ${cell.bundleId} imported as ${cell.id}`)
  return lines.join('\n')
}
