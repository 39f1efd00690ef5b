import { existsSync } from 'node:fs'
import { HiveStorageError, parseInput } from '@hive/errors'
import { idSchema } from '@hive/schema'
import type { Command } from 'commander'
import { ensureDataDir } from '../data-dir.js'
import { importOpencode, type OpencodeImportResult } from '../opencode/import-opencode.js'
import { type OpencodeFormatChoice, openOpencodeSource } from '../opencode/open-opencode-source.js'
import type { OpencodeCounts } from '../opencode/write-opencode-session.js'
import { action, type CliContext, type CliState, command } from './context.js'
import { oneLine, table } from './format.js'

export interface ImportOpencodeArgs {
  readonly dir: string
  readonly workspaceId?: string
  readonly cellId?: string
  readonly format: OpencodeFormatChoice
}

const FORMATS: readonly OpencodeFormatChoice[] = ['auto', 'json', 'sqlite']

/**
 * `hive import-opencode DIR`: exit code 0 when every session was imported (or was already),
 * 1 when some were skipped (the others are imported; the report says which and why) or the
 * import failed, 2 for invalid usage.
 */
export async function importOpencodeCommand(context: CliContext, args: ImportOpencodeArgs): Promise<number> {
  // The source first: a wrong directory fails before anything is created or opened.
  const source = openOpencodeSource({ dir: args.dir, format: args.format })
  let result: OpencodeImportResult
  try {
    const layout = ensureDataDir(context.dataDir.path, { create: context.dataDir.isDefault, writable: true })
    const fresh = !existsSync(layout.database)
    if (fresh && (args.workspaceId || args.cellId)) {
      const [what, id] = args.cellId ? ['cell', args.cellId] : ['workspace', args.workspaceId]
      throw new HiveStorageError(
        'NOT_FOUND',
        `there is no ${what} ${id} (${layout.root} has no database yet)`,
        {
          value: id,
        },
      )
    }
    const store = await context.openStore(fresh ? { create: true, migrate: 'auto' } : {})
    const bar = context.progress('import-opencode')
    try {
      result = await importOpencode(store, {
        source,
        ...(args.workspaceId ? { workspaceId: args.workspaceId } : {}),
        ...(args.cellId ? { cellId: args.cellId } : {}),
        onProgress: bar.listener,
        now: context.io.now,
      })
    } finally {
      bar.stop()
      await store.close()
    }
  } finally {
    source.close()
  }
  const skipped = result.totals.skipped
  if (context.json) context.printJson({ ok: skipped === 0, ...result })
  else context.out(describe(result))
  if (skipped > 0) {
    context.io.stderr(
      `hive: ${skipped} of ${result.totals.sessions} OpenCode session(s) skipped, the others were imported [${firstCode(result)}]\n`,
    )
    return 1
  }
  return 0
}

function firstCode(result: OpencodeImportResult): string {
  for (const s of result.sessions) if (s.outcome === 'skipped') return s.error.code
  return 'INVALID_INPUT'
}

function describe(result: OpencodeImportResult): string {
  const kind = result.source.format === 'sqlite' ? 'OpenCode SQLite database' : 'OpenCode JSON storage'
  const lines = [`read ${result.source.path} (${kind})`]
  if (result.sessions.length === 0) {
    lines.push('no sessions found')
    return lines.join('\n')
  }
  lines.push(
    table(
      [
        ['OUTCOME', 'SESSION', 'MESSAGES', 'PARTS', 'TITLE'],
        ...result.sessions.map((s) => [
          s.outcome,
          s.externalId,
          s.outcome === 'skipped' ? '' : changes(s.messages),
          s.outcome === 'skipped' ? '' : changes(s.parts),
          `${s.parentExternalId ? '↳ ' : ''}${oneLine(s.title ?? '').slice(0, 60)}${s.outcome !== 'skipped' && s.outcome !== 'imported' && s.sessionChanged ? ' (session info changed)' : ''}`,
        ]),
      ],
      { head: true },
    ),
  )
  for (const s of result.sessions) {
    if (s.outcome === 'skipped')
      lines.push(`skipped ${s.externalId}: ${oneLine(s.error.message)} [${s.error.code}]`)
  }
  const t = result.totals
  lines.push(
    `${t.sessions} session(s): ${t.imported} imported, ${t.updated} updated, ${t.unchanged} unchanged, ${t.skipped} skipped (${t.subagentSessions} sub-agent)`,
    `messages: ${t.messages.added} new, ${t.messages.updated} changed; parts: ${t.parts.added} new, ${t.parts.updated} changed`,
  )
  if (result.workspacesCreated.length > 0 || result.cellsCreated.length > 0) {
    lines.push(
      `created ${result.workspacesCreated.length} workspace(s) and ${result.cellsCreated.length} cell(s)`,
    )
  }
  return lines.join('\n')
}

function changes(counts: OpencodeCounts): string {
  const out = [
    counts.added > 0 ? `${counts.added} new` : '',
    counts.updated > 0 ? `${counts.updated} changed` : '',
  ].filter(Boolean)
  return out.length > 0 ? out.join(', ') : 'unchanged'
}

interface ImportOpencodeOptions {
  workspace?: string
  cell?: string
  format?: string
}

/** `hive import-opencode DIR [--workspace ID] [--cell ID] [--format auto|json|sqlite]`. */
export function registerImportOpencode(program: Command, state: CliState): void {
  command(program, 'import-opencode', "import OpenCode's sessions (JSON storage or opencode.db) into cells")
    .argument(
      '<dir>',
      "OpenCode's data directory (~/.local/share/opencode), its storage/ directory, or opencode.db",
    )
    .option(
      '--workspace <id>',
      'put new cells in this workspace (default: one workspace per OpenCode project)',
    )
    .option('--cell <id>', 'put every new top-level session in this cell (default: a new cell per session)')
    .option('--format <format>', `${FORMATS.join(', ')} (default auto: opencode.db when there is one)`)
    .addHelpText(
      'after',
      `
Each OpenCode project becomes a workspace (by its worktree path), each top-level session a cell,
and each sub-agent session a session of its parent's cell. Running it again imports only what
changed. A session with malformed data is reported and skipped; the others are imported, and the
exit code is 1. OpenCode's files are only read.`,
    )
    .action(
      action<ImportOpencodeOptions>(state, async (context, options, [dir]) => {
        const format = options.format ?? 'auto'
        if (!(FORMATS as readonly string[]).includes(format)) {
          throw new HiveStorageError(
            'INVALID_INPUT',
            `--format must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(format)}`,
            { value: format },
          )
        }
        if (options.workspace !== undefined)
          parseInput(idSchema('workspace'), options.workspace, '--workspace')
        if (options.cell !== undefined) parseInput(idSchema('cell'), options.cell, '--cell')
        return importOpencodeCommand(context, {
          dir: dir as string,
          format: format as OpencodeFormatChoice,
          ...(options.workspace === undefined ? {} : { workspaceId: options.workspace }),
          ...(options.cell === undefined ? {} : { cellId: options.cell }),
        })
      }),
    )
}
