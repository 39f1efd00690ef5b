import { basename } from 'node:path'
import { HiveStorageError, isHiveStorageError, parseInput } from '@hive/errors'
import { insertEvent } from '@hive/queries'
import { type Database, idSchema, ids, newCellSchema, newWorkspaceSchema } from '@hive/schema'
import type { Transaction } from 'kysely'
import { z } from 'zod'
import { trackOperation } from '../operations/track-operation.js'
import { fanOut, type ProgressListener, reporter } from '../progress.js'
import type { OpencodeTargetStore } from './ingest-opencode-messages.js'
import { type OpencodeFormatChoice, openOpencodeSource } from './open-opencode-source.js'
import type {
  OpencodeFormat,
  OpencodeProject,
  OpencodeSessionEntry,
  OpencodeSource,
} from './opencode-source.js'
import { type ValidTranscript, validateTranscript } from './opencode-transcript.js'
import {
  findOpencodeSession,
  type OpencodeCounts,
  type OpencodeIngestResult,
  writeOpencodeSession,
} from './write-opencode-session.js'
import { inWriteScope } from './write-scope.js'

export interface ImportOpencodeOptions {
  /** OpenCode's data directory (`~/.local/share/opencode`), its `storage` directory, or `opencode.db`. */
  readonly dir?: string
  /** A source opened already (by {@link openOpencodeSource}), read instead of `dir`; the caller closes it. */
  readonly source?: OpencodeSource
  /** `auto` (default) reads `opencode.db` when there is one, else the JSON storage. */
  readonly format?: OpencodeFormatChoice
  /** Put every new cell in this workspace instead of one workspace per OpenCode project. */
  readonly workspaceId?: string
  /** Put every new top-level session in this cell instead of a new cell each. */
  readonly cellId?: string
  /** Sessions done of the total, after each session. */
  readonly onProgress?: ProgressListener
  readonly now?: () => number
  /** Where the SQLite reader's private copy of `opencode.db` goes (default: the OS temp directory). */
  readonly tempDir?: string
}

/** What happened to one session that was imported, updated or found unchanged. */
export interface OpencodeSessionImported extends OpencodeIngestResult {
  readonly title: string
  /** OpenCode's id of the parent session, for a sub-agent session. */
  readonly parentExternalId: string | null
  /** The cell this import created for the session, if it did. */
  readonly createdCellId: string | null
}

/** A session that was not imported: its data is malformed, or its parent's was. Nothing of it was written. */
export interface OpencodeSessionSkipped {
  readonly externalId: string
  readonly title: string | null
  readonly parentExternalId: string | null
  readonly outcome: 'skipped'
  readonly error: HiveStorageError
}

export type OpencodeSessionOutcome = OpencodeSessionImported | OpencodeSessionSkipped

/** The result of {@link importOpencode}: each session's outcome and the totals. */
export interface OpencodeImportResult {
  readonly source: { readonly path: string; readonly format: OpencodeFormat }
  /** One entry per OpenCode session found, parents before their sub-agent sessions. */
  readonly sessions: readonly OpencodeSessionOutcome[]
  readonly totals: {
    readonly sessions: number
    readonly imported: number
    readonly updated: number
    readonly unchanged: number
    readonly skipped: number
    /** Sub-agent sessions (with a parent) among the imported, updated and unchanged. */
    readonly subagentSessions: number
    readonly messages: OpencodeCounts
    readonly parts: OpencodeCounts
  }
  readonly workspacesCreated: readonly string[]
  readonly cellsCreated: readonly string[]
}

const optionsSchema = z.object({
  workspaceId: idSchema('workspace').optional(),
  cellId: idSchema('cell').optional(),
})

/** Failures of the store itself: every other session would fail the same way, so the import stops. */
const FATAL = new Set([
  'DISK_FULL',
  'DATABASE_READONLY',
  'DATABASE_CORRUPT',
  'DATABASE_BUSY',
  'DATA_DIR_UNUSABLE',
])

type Trx = Transaction<Database>

/**
 * Imports an OpenCode data directory, in either of its forms (the JSON files of OpenCode ≤ 1.1,
 * `opencode.db` of 1.2+), into cells' sessions, messages and parts. The source is only read.
 *
 * Mapping: one workspace per OpenCode project (by its worktree path, reusing a workspace that
 * has that root path), one cell per top-level session (named after its title, `draft`, with
 * `opencode_session_id` set), and each sub-agent session (`parentID`) a session of its parent's
 * cell with `parent_session_id` pointing to the parent. `workspaceId` and `cellId` override where
 * new cells and top-level sessions go. A session imported before stays where it is.
 *
 * Each session is written in its own transaction, whole or not at all; a session whose data is
 * malformed is skipped (with its sub-agent sessions) and reported with a typed error, and the
 * others are imported. Running it again writes only what changed: new or changed messages and
 * parts, compared with what is stored.
 *
 * @example
 * ```ts
 * const result = await importOpencode(store, { dir: join(homedir(), '.local/share/opencode') })
 * for (const s of result.sessions) if (s.outcome === 'skipped') console.warn(s.externalId, s.error.message)
 * ```
 */
export async function importOpencode(
  store: OpencodeTargetStore,
  options: Parameters<typeof importOpencodeUntracked>[1],
): ReturnType<typeof importOpencodeUntracked> {
  return trackOperation(
    store,
    'import-opencode',
    (progress) =>
      importOpencodeUntracked(store, {
        ...options,
        onProgress: fanOut(progress, options?.onProgress),
      } as typeof options),
    (result) => ({ totals: (result as { totals?: unknown }).totals ?? null }),
  )
}

/** {@link importOpencode} without its operation record. */
async function importOpencodeUntracked(
  store: OpencodeTargetStore,
  options: ImportOpencodeOptions,
): Promise<OpencodeImportResult> {
  const target = parseInput(
    optionsSchema,
    { workspaceId: options?.workspaceId, cellId: options?.cellId },
    'import options',
  )
  if ((options.dir === undefined) === (options.source === undefined)) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      'give the OpenCode directory (dir) or an opened source, not both',
    )
  }
  const progress = reporter(options.onProgress)
  const now = options.now ?? Date.now
  const source =
    options.source ??
    openOpencodeSource({
      dir: options.dir as string,
      ...(options.format === undefined ? {} : { format: options.format }),
      ...(options.tempDir === undefined ? {} : { tempDir: options.tempDir }),
    })
  try {
    await checkTarget(store, target)
    const projects = source.projects()
    const entries = parentsFirst(source.sessions())
    const listed = new Set(entries.map((e) => e.id))
    const skipped = new Set<string>()
    const outcomes: OpencodeSessionOutcome[] = []
    const workspacesCreated: string[] = []
    const cellsCreated: string[] = []
    progress({ phase: 'sessions', done: 0, total: entries.length })
    for (const [index, entry] of entries.entries()) {
      try {
        if (entry.problem) throw entry.problem
        if (entry.parentId && skipped.has(entry.parentId)) {
          throw new HiveStorageError(
            'NOT_FOUND',
            `sub-agent session ${entry.id} was skipped with its parent session ${entry.parentId}`,
            { value: { sessionID: entry.id, parentID: entry.parentId } },
          )
        }
        const transcript = validateTranscript(source.read(entry.id))
        const done = await inWriteScope(store.database, async (scope) => {
          const placed = await place(scope.trx, transcript, { target, projects, listed, now, entry })
          const result = await writeOpencodeSession(scope, {
            cellId: placed.cellId,
            transcript,
            content: store.blobs,
            now,
          })
          return { result, placed }
        })
        if (done.result.outcome !== 'unchanged') store.invalidateCaches()
        if (done.placed.workspaceCreated) workspacesCreated.push(done.placed.workspaceCreated)
        if (done.placed.cellCreated) cellsCreated.push(done.placed.cellCreated)
        outcomes.push({
          ...done.result,
          title: transcript.session.title,
          parentExternalId: transcript.session.parentID ?? null,
          createdCellId: done.placed.cellCreated,
        })
      } catch (error) {
        const failure = typed(error)
        if (FATAL.has(failure.code)) throw failure
        skipped.add(entry.id)
        outcomes.push({
          externalId: entry.id,
          title: entry.title,
          parentExternalId: entry.parentId,
          outcome: 'skipped',
          error: failure,
        })
      }
      progress({ phase: 'sessions', done: index + 1, total: entries.length })
    }
    return {
      source: { path: source.path, format: source.format },
      sessions: outcomes,
      totals: totalsOf(outcomes),
      workspacesCreated,
      cellsCreated,
    }
  } finally {
    if (!options.source) source.close()
  }
}

/** The workspace and cell named in the options must exist (and agree). */
async function checkTarget(
  store: OpencodeTargetStore,
  target: z.output<typeof optionsSchema>,
): Promise<void> {
  const db = store.database.db
  if (target.workspaceId) {
    const workspace = await db
      .selectFrom('workspaces')
      .select('id')
      .where('id', '=', target.workspaceId)
      .executeTakeFirst()
    if (!workspace) {
      throw new HiveStorageError('NOT_FOUND', `there is no workspace ${target.workspaceId}`, {
        value: target.workspaceId,
      })
    }
  }
  if (target.cellId) {
    const cell = await db
      .selectFrom('cells')
      .select(['id', 'workspace_id'])
      .where('id', '=', target.cellId)
      .executeTakeFirst()
    if (!cell)
      throw new HiveStorageError('NOT_FOUND', `there is no cell ${target.cellId}`, { value: target.cellId })
    if (target.workspaceId && cell.workspace_id !== target.workspaceId) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `cell ${target.cellId} belongs to workspace ${cell.workspace_id}, not ${target.workspaceId}`,
        { value: { cellId: target.cellId, workspaceId: target.workspaceId } },
      )
    }
  }
}

interface Placement {
  readonly cellId: string
  readonly cellCreated: string | null
  readonly workspaceCreated: string | null
}

/**
 * Where a session goes: where it already is; else its parent's cell (a sub-agent session);
 * else the cell given, or a new cell in the workspace given or in its project's workspace.
 */
async function place(
  trx: Trx,
  transcript: ValidTranscript,
  context: {
    target: z.output<typeof optionsSchema>
    projects: ReadonlyMap<string, OpencodeProject>
    listed: ReadonlySet<string>
    now: () => number
    entry: OpencodeSessionEntry
  },
): Promise<Placement> {
  const { session } = transcript
  const existing = await findOpencodeSession(trx, session.id)
  if (existing) return { cellId: existing.cell_id, cellCreated: null, workspaceCreated: null }
  if (session.parentID) {
    const parent = await findOpencodeSession(trx, session.parentID)
    if (parent) return { cellId: parent.cell_id, cellCreated: null, workspaceCreated: null }
    if (context.listed.has(session.parentID)) {
      throw new HiveStorageError(
        'NOT_FOUND',
        `sub-agent session ${session.id}: its parent session ${session.parentID} is not imported`,
        { value: { sessionID: session.id, parentID: session.parentID } },
      )
    }
    // The parent is in neither OpenCode's data nor Hive: the session gets a cell of its own.
  }
  if (context.target.cellId)
    return { cellId: context.target.cellId, cellCreated: null, workspaceCreated: null }
  let workspaceId = context.target.workspaceId
  let workspaceCreated: string | null = null
  if (!workspaceId) {
    const projectId = session.projectID ?? context.entry.projectId ?? undefined
    const project = projectId === undefined ? undefined : context.projects.get(projectId)
    const ensured = await ensureWorkspace(trx, {
      rootPath: project?.worktree ?? session.directory ?? context.entry.directory ?? null,
      name: project?.name ?? null,
      projectId: projectId ?? null,
      now: context.now(),
      sessionId: session.id,
    })
    workspaceId = ensured.id
    if (ensured.created) workspaceCreated = ensured.id
  }
  const cellId = await createCell(trx, {
    workspaceId,
    name: oneLine(session.title, 200) || `OpenCode session ${session.id}`,
    workspacePath: session.directory ?? null,
    opencodeSessionId: session.id,
    projectId: session.projectID ?? null,
    now: context.now(),
  })
  return { cellId, cellCreated: cellId, workspaceCreated }
}

/** The workspace whose root path is the project's worktree, created if there is none. */
async function ensureWorkspace(
  trx: Trx,
  project: {
    rootPath: string | null
    name: string | null
    projectId: string | null
    now: number
    sessionId: string
  },
): Promise<{ id: string; created: boolean }> {
  const rootPath = project.rootPath
  if (!rootPath?.startsWith('/')) {
    throw new HiveStorageError(
      'INVALID_INPUT',
      `session ${project.sessionId}: its project has no absolute worktree path (${JSON.stringify(rootPath)}) to find or make a workspace with; pass a workspace id`,
      { value: { sessionID: project.sessionId, worktree: rootPath } },
    )
  }
  const found = await trx
    .selectFrom('workspaces')
    .select('id')
    .where('root_path', '=', rootPath)
    .executeTakeFirst()
  if (found) return { id: found.id, created: false }
  const workspace = parseInput(
    newWorkspaceSchema,
    {
      name:
        oneLine(project.name ?? '', 200) ||
        oneLine(basename(rootPath), 200) ||
        oneLine(project.projectId ?? '', 200) ||
        'OpenCode',
      rootPath,
    },
    'workspace',
  )
  const id = ids.workspace()
  await trx
    .insertInto('workspaces')
    .values({
      id,
      name: workspace.name,
      root_path: workspace.rootPath,
      created_at: project.now,
      updated_at: project.now,
    })
    .execute()
  return { id, created: true }
}

/** A new cell for a top-level session, recorded on the timeline as the cell service does. */
async function createCell(
  trx: Trx,
  input: {
    workspaceId: string
    name: string
    workspacePath: string | null
    opencodeSessionId: string
    projectId: string | null
    now: number
  },
): Promise<string> {
  const cell = parseInput(
    newCellSchema,
    {
      workspaceId: input.workspaceId,
      name: input.name,
      type: 'implementation',
      workspacePath: input.workspacePath,
      opencodeSessionId: input.opencodeSessionId,
      metadata: {
        importedFrom: 'opencode',
        ...(input.projectId ? { opencodeProjectId: input.projectId } : {}),
      },
    },
    'cell',
  )
  const id = ids.cell()
  const status = 'draft' as const
  await trx
    .insertInto('cells')
    .values({
      id,
      workspace_id: cell.workspaceId,
      name: cell.name,
      description: null,
      type: cell.type,
      status,
      template_id: null,
      workspace_path: cell.workspacePath ?? null,
      branch_name: null,
      base_commit: null,
      opencode_session_id: cell.opencodeSessionId ?? null,
      last_setup_error: null,
      metadata: JSON.stringify(cell.metadata ?? {}),
      created_at: input.now,
      updated_at: input.now,
      completed_at: null,
      archived_at: null,
    })
    .execute()
  await insertEvent(
    trx,
    {
      cellId: id,
      type: 'cell.created',
      source: 'system',
      payload: { name: cell.name, type: cell.type, status, importedFrom: 'opencode' },
    },
    input.now,
  )
  return id
}

/** Parents before their sub-agent sessions (at any depth), otherwise oldest first. */
function parentsFirst(entries: readonly OpencodeSessionEntry[]): OpencodeSessionEntry[] {
  const byId = new Map(entries.map((e) => [e.id, e]))
  const depths = new Map<string, number>()
  const depth = (entry: OpencodeSessionEntry, seen: Set<string>): number => {
    const known = depths.get(entry.id)
    if (known !== undefined) return known
    const parent = entry.parentId ? byId.get(entry.parentId) : undefined
    // A cycle of parents (malformed data) is broken where it is found.
    const value = parent && !seen.has(parent.id) ? depth(parent, seen.add(entry.id)) + 1 : 0
    depths.set(entry.id, value)
    return value
  }
  return [...entries].sort(
    (a, b) =>
      depth(a, new Set()) - depth(b, new Set()) ||
      (a.createdAt ?? 0) - (b.createdAt ?? 0) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )
}

function totalsOf(outcomes: readonly OpencodeSessionOutcome[]): OpencodeImportResult['totals'] {
  const count = (outcome: OpencodeSessionOutcome['outcome']) =>
    outcomes.filter((o) => o.outcome === outcome).length
  const done = outcomes.filter((o): o is OpencodeSessionImported => o.outcome !== 'skipped')
  const sum = (pick: (o: OpencodeSessionImported) => OpencodeCounts): OpencodeCounts => ({
    added: done.reduce((n, o) => n + pick(o).added, 0),
    updated: done.reduce((n, o) => n + pick(o).updated, 0),
    unchanged: done.reduce((n, o) => n + pick(o).unchanged, 0),
  })
  return {
    sessions: outcomes.length,
    imported: count('imported'),
    updated: count('updated'),
    unchanged: count('unchanged'),
    skipped: count('skipped'),
    subagentSessions: done.filter((o) => o.parentExternalId !== null).length,
    messages: sum((o) => o.messages),
    parts: sum((o) => o.parts),
  }
}

/** Text as one line of at most `max` characters (cell and workspace names). */
function oneLine(text: string, max: number): string {
  return text
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .trim()
    .slice(0, max)
    .trim()
}

function typed(error: unknown): HiveStorageError {
  if (isHiveStorageError(error)) return error
  return new HiveStorageError('INTERNAL', (error as Error)?.message ?? String(error), { cause: error })
}
