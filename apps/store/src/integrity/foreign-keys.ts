import type { SqliteDatabase } from '@hive/sqlite'
import { foreignKeyCheck } from '@hive/sqlite'
import type { RepairAction } from './check-report.js'

type Sqlite = SqliteDatabase['sqlite']

/** Rows of one table that refer, through one foreign key, to rows that do not exist. */
export interface DanglingReference {
  readonly table: string
  readonly columns: readonly string[]
  readonly parent: string
  readonly parentColumns: readonly string[]
  /** What the schema does to these rows when their parent is deleted: `CASCADE`, `SET NULL`, `NO ACTION`… */
  readonly onDelete: string
  readonly count: number
  /** The first few rows' rowids (null for tables without rowid). */
  readonly rowids: ReadonlyArray<number | null>
}

interface ForeignKey {
  readonly id: number
  readonly parent: string
  readonly from: string[]
  readonly to: string[]
  readonly onDelete: string
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`

function foreignKeysOf(sqlite: Sqlite, table: string): Map<number, ForeignKey> {
  const rows = sqlite
    .prepare(`SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq`)
    .all(table) as Array<{
    id: number
    table: string
    from: string
    to: string | null
    on_delete: string
  }>
  const keys = new Map<number, ForeignKey>()
  for (const row of rows) {
    const key = keys.get(row.id) ?? {
      id: row.id,
      parent: row.table,
      from: [],
      to: [],
      onDelete: row.on_delete,
    }
    key.from.push(row.from)
    if (row.to !== null) key.to.push(row.to)
    keys.set(row.id, key)
  }
  // A key naming no parent columns refers to the parent's primary key.
  for (const key of keys.values()) {
    if (key.to.length === 0) {
      key.to.push(
        ...(
          sqlite
            .prepare('SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk')
            .all(key.parent) as Array<{
            name: string
          }>
        ).map((c) => c.name),
      )
    }
  }
  return keys
}

/** `PRAGMA foreign_key_check`, grouped by table and key, with what each key is. */
export function danglingReferences(sqlite: Sqlite): DanglingReference[] {
  const groups = new Map<string, { table: string; fk: number; rowids: Array<number | null>; count: number }>()
  for (const violation of foreignKeyCheck(sqlite).violations) {
    const id = `${violation.table}\0${violation.foreignKeyIndex}`
    const group = groups.get(id) ?? {
      table: violation.table,
      fk: violation.foreignKeyIndex,
      rowids: [],
      count: 0,
    }
    group.count += 1
    if (group.rowids.length < 10) group.rowids.push(violation.rowid)
    groups.set(id, group)
  }
  const keysByTable = new Map<string, Map<number, ForeignKey>>()
  return [...groups.values()].map((group) => {
    let keys = keysByTable.get(group.table)
    if (!keys) {
      keys = foreignKeysOf(sqlite, group.table)
      keysByTable.set(group.table, keys)
    }
    const key = keys.get(group.fk)
    return {
      table: group.table,
      columns: key?.from ?? [],
      parent: key?.parent ?? '',
      parentColumns: key?.to ?? [],
      onDelete: key?.onDelete ?? 'NO ACTION',
      count: group.count,
      rowids: group.rowids,
    }
  })
}

/** The WHERE clause that selects a table's rows whose key names a parent row that does not exist. */
function danglingWhere(reference: DanglingReference): string {
  const present = reference.columns.map((column) => `${quote(column)} IS NOT NULL`).join(' AND ')
  const match = reference.columns
    .map(
      (column, i) =>
        `p.${quote(reference.parentColumns[i] ?? '')} = ${quote(reference.table)}.${quote(column)}`,
    )
    .join(' AND ')
  return `${present} AND NOT EXISTS (SELECT 1 FROM ${quote(reference.parent)} p WHERE ${match})`
}

/** What a blob file says about itself, for a `blobs` row recreated from it. */
export interface BlobFacts {
  readonly size: number
  readonly storedSize: number
  readonly encoding: 'lz4-frames' | 'raw'
}

/**
 * Makes dangling references consistent, the way the schema would have had the parents been
 * deleted normally, without inventing content:
 * - artifacts whose `blobs` row is gone get it back (from the blob file when there is one; when
 *   there is none, from the artifact's sizes, and the artifact is marked missing);
 * - cells whose workspace row is gone get a placeholder workspace (deleting them would take
 *   every session and transcript of those cells along);
 * - `ON DELETE SET NULL` references are set to NULL;
 * - `ON DELETE CASCADE` rows are deleted (with their own children): their parent is gone, and
 *   no service can reach them.
 * Anything else stays, and is reported again by the next check. Runs in the caller's transaction.
 */
export function repairDanglingReferences(
  sqlite: Sqlite,
  references: readonly DanglingReference[],
  options: { blobFacts: ReadonlyMap<string, BlobFacts | null>; now: number },
): RepairAction[] {
  const actions: RepairAction[] = []
  // Parents first: placeholders and blob rows make references valid again instead of dropping rows.
  const ordered = [...references].sort((a, b) => rank(a) - rank(b))
  for (const reference of ordered) {
    const table = quote(reference.table)
    const where = danglingWhere(reference)
    if (
      reference.parent === 'blobs' &&
      reference.table === 'artifacts' &&
      reference.columns[0] === 'blob_hash'
    ) {
      const rows = sqlite
        .prepare(
          `SELECT blob_hash AS hash, max(size) AS size, max(stored_size) AS storedSize, min(created_at) AS createdAt,
             group_concat(id) AS ids
           FROM artifacts WHERE ${where} GROUP BY blob_hash`,
        )
        .all() as Array<{ hash: string; size: number; storedSize: number; createdAt: number; ids: string }>
      const insert = sqlite.prepare(
        'INSERT INTO blobs (hash, size, stored_size, encoding, created_at, verified_at) VALUES (?, ?, ?, ?, ?, NULL)',
      )
      const markMissing = sqlite.prepare(
        "UPDATE artifacts SET status = 'missing' WHERE blob_hash = ? AND status <> 'missing'",
      )
      for (const row of rows) {
        const facts = options.blobFacts.get(row.hash) ?? null
        insert.run(
          row.hash,
          facts?.size ?? row.size,
          facts?.storedSize ?? row.storedSize,
          facts?.encoding ?? (row.size === row.storedSize ? 'raw' : 'lz4-frames'),
          row.createdAt,
        )
        const artifacts = row.ids.split(',')
        actions.push({
          kind: 'blob-row-created',
          message: `recreated the blobs row of ${row.hash} for ${artifacts.length} artifact(s)${facts ? ' from its file' : ''}`,
          details: { hash: row.hash, artifacts, fromFile: facts !== null },
        })
        if (!facts) {
          const marked = markMissing.run(row.hash).changes
          if (marked > 0) {
            actions.push({
              kind: 'artifact-marked-missing',
              message: `marked ${marked} artifact(s) of blob ${row.hash} missing: there is no such blob file`,
              details: { hash: row.hash, artifacts },
            })
          }
        }
      }
      continue
    }
    if (
      reference.parent === 'workspaces' &&
      reference.table === 'cells' &&
      reference.columns[0] === 'workspace_id'
    ) {
      const rows = sqlite
        .prepare(
          `SELECT workspace_id AS id, min(created_at) AS createdAt FROM cells WHERE ${where} GROUP BY workspace_id`,
        )
        .all() as Array<{ id: string; createdAt: number }>
      const insert = sqlite.prepare(
        'INSERT INTO workspaces (id, name, root_path, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      )
      for (const row of rows) {
        insert.run(row.id, `recovered ${row.id}`, `(recovered)/${row.id}`, row.createdAt, options.now)
        actions.push({
          kind: 'workspace-recreated',
          message: `recreated lost workspace ${row.id} as a placeholder (name "recovered ${row.id}"): its cells refer to it`,
          details: { workspace: row.id },
        })
      }
      continue
    }
    if (reference.onDelete === 'SET NULL') {
      const assignments = reference.columns.map((column) => `${quote(column)} = NULL`).join(', ')
      const changed = sqlite.prepare(`UPDATE ${table} SET ${assignments} WHERE ${where}`).run().changes
      if (changed > 0) {
        actions.push({
          kind: 'reference-cleared',
          message: `set ${reference.table}.${reference.columns.join(', ')} to NULL in ${changed} row(s) that referred to lost ${reference.parent} rows`,
          details: {
            table: reference.table,
            columns: reference.columns,
            parent: reference.parent,
            rows: changed,
          },
        })
      }
      continue
    }
    if (reference.onDelete === 'CASCADE') {
      const keyColumn = hasColumn(sqlite, reference.table, 'id') ? 'id' : null
      const sample = keyColumn
        ? (sqlite.prepare(`SELECT id FROM ${table} WHERE ${where} LIMIT 20`).pluck().all() as string[])
        : []
      const deleted = sqlite.prepare(`DELETE FROM ${table} WHERE ${where}`).run().changes
      if (deleted > 0) {
        actions.push({
          kind: 'rows-deleted',
          message: `deleted ${deleted} ${reference.table} row(s) whose ${reference.parent} row is lost (and their own children)`,
          details: { table: reference.table, parent: reference.parent, rows: deleted, ids: sample },
        })
      }
    }
  }
  return actions
}

function rank(reference: DanglingReference): number {
  if (reference.parent === 'blobs' || reference.parent === 'workspaces') return 0
  return reference.onDelete === 'SET NULL' ? 1 : 2
}

function hasColumn(sqlite: Sqlite, table: string, column: string): boolean {
  return (
    (sqlite
      .prepare('SELECT count(*) FROM pragma_table_info(?) WHERE name = ?')
      .pluck()
      .get(table, column) as number) > 0
  )
}
