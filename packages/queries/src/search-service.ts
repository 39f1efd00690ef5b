import { createHash } from 'node:crypto'
import { HiveStorageError, parseInput } from '@hive/errors'
import {
  cellTypeSchema,
  type Database,
  idSchema,
  type SearchKind,
  searchKindSchema,
  timestampSchema,
} from '@hive/schema'
import { type Kysely, sql } from 'kysely'
import { z } from 'zod'
import { decodeCursor, encodeCursor } from './cursor.js'
import { filterTerm, userQuery } from './fts-query.js'

const querySchema = z
  .object({
    text: z.string(),
    workspaceId: idSchema('workspace').optional(),
    cellIds: z.array(idSchema('cell')).min(1).max(100).optional(),
    cellTypes: z.array(cellTypeSchema).min(1).optional(),
    kinds: z.array(searchKindSchema).min(1).optional(),
    from: timestampSchema.optional(),
    to: timestampSchema.optional(),
    limit: z.int().min(1).max(100).default(20),
    cursor: z.string().optional(),
  })
  .strict()
export type SearchQuery = z.input<typeof querySchema>

/** A run of snippet text, matched or not (render `match` runs highlighted). */
export interface SnippetSegment {
  readonly text: string
  readonly match: boolean
}

export interface SearchHit {
  readonly kind: SearchKind
  /** The id of what matched: a cell, plan, part or artifact. */
  readonly refId: string
  readonly cellId: string
  readonly workspaceId: string
  readonly cellType: string
  readonly sessionId: string | null
  readonly createdAt: number
  readonly title: readonly SnippetSegment[]
  /** Up to ~24 words around the best match in the body. */
  readonly snippet: readonly SnippetSegment[]
  /** bm25: lower is better. */
  readonly score: number
}

const START = '\u0001'
const END = '\u0002'
/** Deepest offset a cursor may reach: relevance pages past this are not useful. */
const MAX_OFFSET = 10_000

/**
 * Cross-cell full-text search over transcripts, reasoning, tool outputs, plans, artifact text and
 * cell names and descriptions (one FTS5 index, kept by triggers). Filters join the MATCH
 * expression itself, so they narrow the search, not a page after it; each filter value is one
 * exact, case-sensitive token, so a filter reads only the documents it selects. Hits are ranked
 * by bm25 (titles weigh more than bodies) with highlighted snippets. Any text is a safe query:
 * words and "quoted phrases" match as typed, a trailing `*` searches by prefix, and FTS5 syntax
 * never reaches the engine.
 *
 * @example
 * ```ts
 * const { hits } = await search.search({ text: 'flaky "login test" retr*', workspaceId, kinds: ['text', 'tool'] })
 * ```
 */
export class SearchService {
  readonly #db: Kysely<Database>

  /** `readDb`: where searches run (a read pool keeps long ones off the event loop); `db` otherwise. */
  constructor(config: { db: Kysely<Database>; readDb?: Kysely<Database> }) {
    this.#db = config.readDb ?? config.db
  }

  async search(query: SearchQuery): Promise<{ hits: SearchHit[]; nextCursor: string | null }> {
    const q = parseInput(querySchema, query, 'search query')
    // A cursor is an offset into one query's ranking: it names that query.
    const { cursor: _cursor, limit: _limit, ...asked } = q
    const scope = `search:${createHash('sha256').update(JSON.stringify(asked)).digest('base64url').slice(0, 22)}`
    const offset = q.cursor === undefined ? 0 : (decodeCursor(q.cursor, ['number'], scope)[0] as number)
    if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        'invalid cursor: pass back a nextCursor exactly as it was returned',
        { value: q.cursor },
      )
    }
    const match = matchExpression(q)
    if (match === null) return { hits: [], nextCursor: null }
    let select = this.#db
      .selectFrom('search')
      .select([
        'kind',
        'ref_id',
        'cell_id',
        'workspace_id',
        'cell_type',
        'session_id',
        'created_at',
        sql<string>`highlight(search, 0, ${START}, ${END})`.as('title_marked'),
        sql<string>`snippet(search, 1, ${START}, ${END}, '…', 24)`.as('snippet_marked'),
        sql<number>`bm25(search, 10.0, 1.0, 0.0, 0.0, 0.0, 0.0)`.as('score'),
      ])
      .where(sql<boolean>`search MATCH ${match}`)
    if (q.from !== undefined) select = select.where('created_at', '>=', q.from)
    if (q.to !== undefined) select = select.where('created_at', '<', q.to)
    let rows: Array<{
      kind: SearchKind
      ref_id: string
      cell_id: string
      workspace_id: string
      cell_type: string
      session_id: string | null
      created_at: number
      title_marked: string | null
      snippet_marked: string | null
      score: number
    }>
    try {
      rows = await select
        .orderBy('score')
        .orderBy(sql`search.rowid`)
        .limit(q.limit + 1)
        .offset(offset)
        .execute()
    } catch (error) {
      // The expression is built to be valid; should FTS5 still refuse it, say so in the caller's
      // terms. Other failures (a busy or damaged database) pass as they are.
      // (A closed database is a DATABASE_ERROR too, but not FTS5's: pass it as it is.)
      if ((error as { code?: string }).code !== 'DATABASE_ERROR' || !/fts5/i.test(String(error))) throw error
      throw new HiveStorageError('INVALID_INPUT', `cannot search for ${JSON.stringify(q.text)}`, {
        value: q.text,
        cause: error,
      })
    }
    const hits = rows.slice(0, q.limit).map((row) => ({
      kind: row.kind,
      refId: row.ref_id,
      cellId: row.cell_id,
      workspaceId: row.workspace_id,
      cellType: row.cell_type,
      sessionId: row.session_id,
      createdAt: Number(row.created_at),
      title: segments(row.title_marked),
      snippet: segments(row.snippet_marked),
      score: row.score,
    }))
    return {
      hits,
      nextCursor:
        rows.length > q.limit && offset + q.limit <= MAX_OFFSET
          ? encodeCursor([offset + q.limit], scope)
          : null,
    }
  }
}

/**
 * The whole MATCH expression: the user's terms in title and body, and each filter as its tokens in
 * the `filters` column (see {@link filterTerm}). Hits carry the real values, from unindexed columns.
 */
export function matchExpression(q: {
  text: string
  workspaceId?: string | undefined
  cellIds?: readonly string[] | undefined
  cellTypes?: readonly string[] | undefined
  kinds?: readonly string[] | undefined
}): string | null {
  const terms = userQuery(q.text)
  if (terms === null) return null
  const parts = [`{title body} : (${terms})`]
  const any = (field: Parameters<typeof filterTerm>[0], values: readonly string[]) =>
    `filters : (${values.map((value) => filterTerm(field, value)).join(' OR ')})`
  if (q.workspaceId !== undefined) parts.push(any('workspaceId', [q.workspaceId]))
  if (q.cellIds) parts.push(any('cellId', q.cellIds))
  if (q.cellTypes) parts.push(any('cellType', q.cellTypes))
  if (q.kinds) parts.push(any('kind', q.kinds))
  return parts.join(' AND ')
}

function segments(marked: string | null): SnippetSegment[] {
  if (!marked) return []
  const out: SnippetSegment[] = []
  let match = false
  let text = ''
  for (const char of marked) {
    if (char === START || char === END) {
      if (text) out.push({ text, match })
      text = ''
      match = char === START
      continue
    }
    text += char
  }
  if (text) out.push({ text, match })
  return out
}
