import { type IdKind, TABLES } from '@hive/schema'

/** A table a bundle carries. */
export type BundleTableName =
  | 'workspaces'
  | 'cells'
  | 'cell_provisioning'
  | 'cell_services'
  | 'cell_links'
  | 'plans'
  | 'plan_feedback'
  | 'sessions'
  | 'messages'
  | 'blobs'
  | 'artifacts'
  | 'parts'
  | 'events'
  | 'metrics'

/** A column that names a row of another table (or of its own). */
export interface BundleReference {
  readonly column: string
  /** The kind of id it holds: how a renaming import remaps it (none: a blob hash, never remapped). */
  readonly kind?: IdKind
  /**
   * The table it must be found in (within the bundle); none for soft references (a message's
   * parent, which is not a foreign key), which are remapped but not checked.
   */
  readonly table?: BundleTableName
}

/** How a bundle carries one table. */
export interface BundleTable {
  readonly name: BundleTableName
  /** The columns exported and imported: every column but the database's local `rid`. */
  readonly columns: readonly string[]
  /** What identifies a row across stores (the primary key, or the unique id of `rid` tables). */
  readonly key: readonly string[]
  /** The row's own id and its kind, for tables whose rows get fresh ids in a renaming import. */
  readonly id?: { readonly column: string; readonly kind: IdKind }
  readonly references: readonly BundleReference[]
  /** Text and JSON columns that may mention ids (`messageID`, "… in artifact art_…"): rewritten on rename. */
  readonly mentions: readonly string[]
  /**
   * The rows of the exported cells, as a SQL query over the cell ids in `@cells` (a JSON array)
   * and `@workspace` (the workspace exported, or null). References to rows outside the bundle
   * that the schema lets go (`ON DELETE SET NULL`) are exported as null, so that every bundle is
   * self-contained.
   */
  readonly query: string
}

const CELLS = 'SELECT value FROM json_each(@cells)'
const SESSIONS = `SELECT id FROM sessions WHERE cell_id IN (${CELLS})`
const MESSAGES = `SELECT id FROM messages WHERE session_id IN (${SESSIONS})`
const ARTIFACTS = `SELECT id FROM artifacts WHERE cell_id IN (${CELLS})`
const PLANS = `SELECT id FROM plans WHERE cell_id IN (${CELLS})`

function columnsOf(name: BundleTableName): string[] {
  const table = TABLES[name]
  return Object.keys(table.row.shape).filter((column) => !table.generated.includes(column))
}

/** `SELECT` of a table's columns, with some of them replaced by expressions. */
function select(name: BundleTableName, where: string, order: string, replaced: Record<string, string> = {}) {
  const list = columnsOf(name)
    .map((column) => (replaced[column] ? `${replaced[column]} AS ${column}` : column))
    .join(', ')
  return `SELECT ${list} FROM ${name} WHERE ${where} ORDER BY ${order}`
}

/** `column` if it names a row of `set`, else null. */
const within = (column: string, set: string) => `CASE WHEN ${column} IN (${set}) THEN ${column} END`

function table(
  name: BundleTableName,
  spec: Omit<BundleTable, 'name' | 'columns' | 'references' | 'mentions'> &
    Partial<Pick<BundleTable, 'references' | 'mentions'>>,
): BundleTable {
  return { name, columns: columnsOf(name), references: [], mentions: [], ...spec }
}

/**
 * The tables of a bundle, in the order they are written and imported: every row comes after the
 * rows it refers to (but for a message's artifact and a session's parent, which the import's
 * deferred foreign keys allow). `settings` (the store's configuration) and `search` (rebuilt by
 * the database's triggers from the rows) are not carried.
 */
export const BUNDLE_TABLES: readonly BundleTable[] = [
  table('workspaces', {
    key: ['id'],
    query: select(
      'workspaces',
      `id IN (SELECT workspace_id FROM cells WHERE id IN (${CELLS})) OR id = @workspace`,
      'id',
    ),
  }),
  table('cells', {
    key: ['id'],
    id: { column: 'id', kind: 'cell' },
    references: [{ column: 'workspace_id', kind: 'workspace', table: 'workspaces' }],
    mentions: ['metadata'],
    query: select('cells', `id IN (${CELLS})`, 'id'),
  }),
  table('cell_provisioning', {
    key: ['cell_id'],
    references: [{ column: 'cell_id', kind: 'cell', table: 'cells' }],
    query: select('cell_provisioning', `cell_id IN (${CELLS})`, 'cell_id'),
  }),
  table('cell_services', {
    key: ['id'],
    id: { column: 'id', kind: 'service' },
    references: [{ column: 'cell_id', kind: 'cell', table: 'cells' }],
    query: select('cell_services', `cell_id IN (${CELLS})`, 'id'),
  }),
  // Links among the exported cells only: a link to a cell left out would dangle on import.
  table('cell_links', {
    key: ['from_cell_id', 'to_cell_id', 'type'],
    references: [
      { column: 'from_cell_id', kind: 'cell', table: 'cells' },
      { column: 'to_cell_id', kind: 'cell', table: 'cells' },
    ],
    query: select(
      'cell_links',
      `from_cell_id IN (${CELLS}) AND to_cell_id IN (${CELLS})`,
      'from_cell_id, to_cell_id, type',
    ),
  }),
  table('plans', {
    key: ['id'],
    id: { column: 'id', kind: 'plan' },
    references: [{ column: 'cell_id', kind: 'cell', table: 'cells' }],
    query: select('plans', `cell_id IN (${CELLS})`, 'id'),
  }),
  table('plan_feedback', {
    key: ['id'],
    id: { column: 'id', kind: 'planFeedback' },
    references: [{ column: 'plan_id', kind: 'plan', table: 'plans' }],
    query: select('plan_feedback', `plan_id IN (${PLANS})`, 'id'),
  }),
  table('sessions', {
    key: ['id'],
    id: { column: 'id', kind: 'session' },
    references: [
      { column: 'cell_id', kind: 'cell', table: 'cells' },
      { column: 'parent_session_id', kind: 'session', table: 'sessions' },
    ],
    mentions: ['data', 'error'],
    query: select('sessions', `cell_id IN (${CELLS})`, 'id', {
      parent_session_id: within('parent_session_id', SESSIONS),
    }),
  }),
  table('messages', {
    key: ['id'],
    id: { column: 'id', kind: 'message' },
    references: [
      { column: 'session_id', kind: 'session', table: 'sessions' },
      { column: 'parent_id', kind: 'message' },
      { column: 'artifact_id', kind: 'artifact', table: 'artifacts' },
    ],
    mentions: ['data', 'error'],
    query: select('messages', `session_id IN (${SESSIONS})`, 'id', {
      artifact_id: within('artifact_id', ARTIFACTS),
    }),
  }),
  table('blobs', {
    key: ['hash'],
    query: select('blobs', `hash IN (SELECT blob_hash FROM artifacts WHERE cell_id IN (${CELLS}))`, 'hash'),
  }),
  table('artifacts', {
    key: ['id'],
    id: { column: 'id', kind: 'artifact' },
    references: [
      { column: 'cell_id', kind: 'cell', table: 'cells' },
      { column: 'session_id', kind: 'session', table: 'sessions' },
      { column: 'message_id', kind: 'message', table: 'messages' },
      { column: 'blob_hash', table: 'blobs' },
    ],
    mentions: ['name', 'summary'],
    query: select('artifacts', `cell_id IN (${CELLS})`, 'id', {
      session_id: within('session_id', SESSIONS),
      message_id: within('message_id', MESSAGES),
    }),
  }),
  table('parts', {
    key: ['id'],
    id: { column: 'id', kind: 'part' },
    references: [
      { column: 'message_id', kind: 'message', table: 'messages' },
      { column: 'artifact_id', kind: 'artifact', table: 'artifacts' },
    ],
    mentions: ['data', 'text'],
    query: select('parts', `message_id IN (${MESSAGES})`, 'id', {
      artifact_id: within('artifact_id', ARTIFACTS),
    }),
  }),
  table('events', {
    key: ['id'],
    id: { column: 'id', kind: 'event' },
    references: [
      { column: 'cell_id', kind: 'cell', table: 'cells' },
      { column: 'session_id', kind: 'session', table: 'sessions' },
    ],
    mentions: ['payload'],
    query: select('events', `cell_id IN (${CELLS})`, 'id', { session_id: within('session_id', SESSIONS) }),
  }),
  table('metrics', {
    key: ['id'],
    id: { column: 'id', kind: 'metric' },
    references: [
      { column: 'cell_id', kind: 'cell', table: 'cells' },
      { column: 'session_id', kind: 'session', table: 'sessions' },
    ],
    mentions: ['tags'],
    query: select('metrics', `cell_id IN (${CELLS})`, 'id', { session_id: within('session_id', SESSIONS) }),
  }),
]

/** Names of the bundle's tables, in order. */
export const BUNDLE_TABLE_NAMES: readonly BundleTableName[] = BUNDLE_TABLES.map((t) => t.name)
