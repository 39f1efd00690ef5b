import type { SqliteDatabase } from '@hive/sqlite'

type Sqlite = SqliteDatabase['sqlite']

// The search documents of the source rows, exactly as the triggers of the latest migration
// (0002_exact_search_index) write them: rowid = source rid * 8 + source code (cells 1, plans 2,
// parts 3, artifacts 4). A test holds this and the triggers together: documents derived here
// must equal what the triggers wrote.

const COLUMNS = [
  'title',
  'body',
  'kind',
  'filters',
  'cell_id',
  'workspace_id',
  'cell_type',
  'session_id',
  'ref_id',
  'created_at',
] as const

const filters = (kind: string, cell: string, workspace: string, cellType: string) =>
  `'k' || lower(hex(${kind})) || ' c' || lower(hex(${cell})) || ' w' || lower(hex(${workspace})) || ' t' || lower(hex(${cellType}))`
const partKind = `CASE WHEN r.type IN ('text', 'reasoning', 'tool') THEN r.type ELSE 'other' END`

/**
 * One SELECT per source, each in rowid order (FTS5 writes fastest when rowids only grow). The
 * source table is the outer loop (`CROSS JOIN` fixes the order): one pass over it in rid order,
 * a lookup by key for each parent, and no sort, whatever the planner's statistics say.
 */
const SOURCES: readonly string[] = [
  `SELECT r.rid * 8 + 1 AS rowid, r.name AS title, r.description AS body, 'cell' AS kind,
     ${filters("'cell'", 'r.id', 'r.workspace_id', 'r.type')} AS filters,
     r.id AS cell_id, r.workspace_id AS workspace_id, r.type AS cell_type, NULL AS session_id,
     r.id AS ref_id, r.created_at AS created_at
   FROM cells r ORDER BY r.rid`,
  `SELECT r.rid * 8 + 2 AS rowid, 'Plan v' || r.version AS title, r.content AS body, 'plan' AS kind,
     ${filters("'plan'", 'c.id', 'c.workspace_id', 'c.type')} AS filters,
     c.id AS cell_id, c.workspace_id AS workspace_id, c.type AS cell_type, NULL AS session_id,
     r.id AS ref_id, r.created_at AS created_at
   FROM plans r CROSS JOIN cells c ON c.id = r.cell_id ORDER BY r.rid`,
  `SELECT r.rid * 8 + 3 AS rowid, NULL AS title, r.text AS body, ${partKind} AS kind,
     ${filters(partKind, 'c.id', 'c.workspace_id', 'c.type')} AS filters,
     c.id AS cell_id, c.workspace_id AS workspace_id, c.type AS cell_type, s.id AS session_id,
     r.id AS ref_id, r.created_at AS created_at
   FROM parts r CROSS JOIN messages m ON m.id = r.message_id CROSS JOIN sessions s ON s.id = m.session_id
     CROSS JOIN cells c ON c.id = s.cell_id
   WHERE r.text IS NOT NULL AND r.text <> '' ORDER BY r.rid`,
  `SELECT r.rid * 8 + 4 AS rowid, r.name AS title, r.summary AS body, 'artifact' AS kind,
     ${filters("'artifact'", 'c.id', 'c.workspace_id', 'c.type')} AS filters,
     c.id AS cell_id, c.workspace_id AS workspace_id, c.type AS cell_type, r.session_id AS session_id,
     r.id AS ref_id, r.created_at AS created_at
   FROM artifacts r CROSS JOIN cells c ON c.id = r.cell_id ORDER BY r.rid`,
]

/** How the search index compares with the rows it is derived from. */
export interface SearchIndexState {
  /** Documents the source rows call for. */
  readonly expected: number
  /** Documents in the index. */
  readonly indexed: number
  /** Expected documents absent from the index. */
  readonly missing: number
  /** Expected documents present with other content (a stale title, body or filter). */
  readonly different: number
  /** Indexed documents that no source row calls for. */
  readonly extra: number
}

/**
 * The FTS5 index's own consistency check (its inverted index against the documents it stores).
 * Returns SQLite's complaint, or null when the index is sound.
 */
export function searchIntegrityProblem(sqlite: Sqlite): string | null {
  try {
    sqlite.prepare("INSERT INTO search (search) VALUES ('integrity-check')").run()
    return null
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')) return (error as Error).message
    throw error
  }
}

/**
 * Compares the index's documents with the ones the source rows call for, row by row (a lookup
 * by rowid each: no temporary copy of the documents, whatever their size).
 */
export function compareSearchIndex(sqlite: Sqlite): SearchIndexState {
  const differs = COLUMNS.map((column) => `s.${column} IS NOT e.${column}`).join(' OR ')
  let expected = 0
  let missing = 0
  let different = 0
  for (const source of SOURCES) {
    const row = sqlite
      .prepare(
        `SELECT count(*) AS expected,
           coalesce(sum(s.rowid IS NULL), 0) AS missing,
           coalesce(sum(s.rowid IS NOT NULL AND (${differs})), 0) AS different
         FROM (${source}) e LEFT JOIN search s ON s.rowid = e.rowid`,
      )
      .get() as { expected: number; missing: number; different: number }
    expected += row.expected
    missing += row.missing
    different += row.different
  }
  const indexed = sqlite.prepare('SELECT count(*) FROM search').pluck().get() as number
  return { expected, indexed, missing, different, extra: indexed - (expected - missing) }
}

/**
 * Rebuilds the search index from the source rows: the FTS5 table is dropped and created again
 * with its own SQL (so the schema stays exactly the migrations'), then filled in rowid order and
 * optimised. Works when the index is damaged beyond FTS5's `rebuild` (which trusts the documents
 * the index stores). Runs in the caller's transaction, if any. Returns the documents written.
 */
export function rebuildSearchIndex(sqlite: Sqlite): number {
  const create = sqlite
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'search'")
    .pluck()
    .get() as string | undefined
  if (create === undefined) return 0
  sqlite.exec('DROP TABLE search')
  sqlite.exec(create)
  let written = 0
  for (const source of SOURCES) {
    written += sqlite.prepare(`INSERT INTO search (rowid, ${COLUMNS.join(', ')}) ${source}`).run().changes
  }
  sqlite.prepare("INSERT INTO search (search) VALUES ('optimize')").run()
  return written
}

/** Whether a database has Hive's search index (a fresh, unmigrated one has not). */
export function hasSearchIndex(sqlite: Sqlite): boolean {
  return (
    sqlite
      .prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'search'")
      .pluck()
      .get() === 1
  )
}
