import { HiveStorageError, parseInput } from '@hive/errors'
import {
  type ArtifactType,
  artifactTypeSchema,
  type Database,
  idSchema,
  ids,
  type NewArtifact,
  newArtifactSchema,
} from '@hive/schema'
import type { CompiledQuery, Insertable, Kysely, Transaction } from 'kysely'
import { z } from 'zod'
import { type Artifact, toArtifact } from './artifact.js'
import type { ArtifactContentInput, ArtifactContentStore, OpenedContent } from './artifact-content-store.js'
import { decodeCursor, encodeCursor } from './cursor.js'

export interface ArtifactServiceConfig {
  readonly db: Kysely<Database>
  readonly content: ArtifactContentStore
  readonly now?: () => number
  readonly newId?: () => string
}

const listOptionsSchema = z
  .object({
    type: artifactTypeSchema.optional(),
    limit: z.int().min(1).max(500).default(50),
    cursor: z.string().optional(),
    order: z.enum(['asc', 'desc']).default('desc'),
  })
  .strict()
export type ListArtifactsOptions = z.input<typeof listOptionsSchema>

export interface ArtifactPage {
  readonly items: readonly Artifact[]
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null
}

const openOptionsSchema = z
  .object({
    range: z
      .object({ offset: z.int().min(0), length: z.int().min(0).optional() })
      .strict()
      .optional(),
    verify: z.boolean().optional(),
  })
  .strict()
export type OpenArtifactOptions = z.input<typeof openOptionsSchema>

/** An artifact opened for reading: its row, and its content with the artifact's content type. */
export interface OpenedArtifact extends OpenedContent {
  readonly artifact: Artifact
}

const cellId = idSchema('cell')
const artifactId = idSchema('artifact')

/**
 * Inserts an artifact's `blobs` row (if new) and its `artifacts` row, in the caller's
 * transaction: the content must be stored already.
 */
/** The queries that insert an artifact's rows (for callers that run their own transaction). */
export function artifactRowQueries(
  db: Kysely<Database>,
  row: Insertable<Database['artifacts']> & {
    blob_hash: string
    size: number
    stored_size: number
    created_at: number
  },
  encoding: 'lz4-frames' | 'raw',
): CompiledQuery[] {
  return [
    db
      .insertInto('blobs')
      .values({
        hash: row.blob_hash,
        size: row.size,
        stored_size: row.stored_size,
        encoding,
        created_at: row.created_at,
        verified_at: null,
      })
      .onConflict((oc) => oc.column('hash').doNothing())
      .compile(),
    db.insertInto('artifacts').values(row).compile(),
  ]
}

export async function insertArtifactRows(
  trx: Transaction<Database>,
  row: Insertable<Database['artifacts']> & {
    blob_hash: string
    size: number
    stored_size: number
    created_at: number
  },
  encoding: 'lz4-frames' | 'raw',
): Promise<void> {
  for (const query of artifactRowQueries(trx, row, encoding)) await trx.executeQuery(query)
}

/**
 * Artifacts of cells: references from rows to content in a content store (the blob store).
 * Content is written before the rows, so a row never points at missing content; content without
 * a row is garbage that the blob store's gc collects after its grace period.
 *
 * @example
 * ```ts
 * const artifacts = new ArtifactService({ db, content: blobStore })
 * const log = await artifacts.put({ cellId, type: 'log', name: 'build.log' }, createReadStream('build.log'))
 * const page = await artifacts.list(cellId, { type: 'log' })
 * ;(await artifacts.open(log.id)).stream().pipe(response)
 * ```
 */
export class ArtifactService {
  readonly #config: ArtifactServiceConfig

  constructor(config: ArtifactServiceConfig) {
    this.#config = config
  }

  /** Stores content and its artifact row; the cell (and session, message) must exist. */
  async put(
    input: NewArtifact,
    content: ArtifactContentInput,
    options: { signal?: AbortSignal } = {},
  ): Promise<Artifact> {
    const artifact = parseInput(newArtifactSchema, input, 'artifact')
    const { db } = this.#config
    const cell = await db
      .selectFrom('cells')
      .select('id')
      .where('id', '=', artifact.cellId)
      .executeTakeFirst()
    if (!cell)
      throw new HiveStorageError('NOT_FOUND', `there is no cell ${artifact.cellId}`, {
        value: artifact.cellId,
      })
    if (artifact.sessionId) {
      const session = await db
        .selectFrom('sessions')
        .select('cell_id')
        .where('id', '=', artifact.sessionId)
        .executeTakeFirst()
      if (session?.cell_id !== artifact.cellId) {
        throw new HiveStorageError(
          'NOT_FOUND',
          `cell ${artifact.cellId} has no session ${artifact.sessionId}`,
          {
            value: artifact.sessionId,
          },
        )
      }
    }
    if (artifact.messageId) {
      const message = await db
        .selectFrom('messages')
        .innerJoin('sessions', 'sessions.id', 'messages.session_id')
        .select('sessions.cell_id')
        .where('messages.id', '=', artifact.messageId)
        .executeTakeFirst()
      if (message?.cell_id !== artifact.cellId) {
        throw new HiveStorageError(
          'NOT_FOUND',
          `cell ${artifact.cellId} has no message ${artifact.messageId}`,
          {
            value: artifact.messageId,
          },
        )
      }
    }

    const stored = await this.#config.content.put(content, {
      name: artifact.name,
      ...(artifact.contentType ? { contentType: artifact.contentType } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })
    const now = (this.#config.now ?? Date.now)()
    const row = {
      id: artifact.id ?? (this.#config.newId ?? ids.artifact)(),
      cell_id: artifact.cellId,
      session_id: artifact.sessionId ?? null,
      message_id: artifact.messageId ?? null,
      type: artifact.type,
      name: artifact.name,
      content_type: stored.contentType,
      blob_hash: stored.hash,
      size: stored.size,
      stored_size: stored.storedSize,
      status: 'available' as const,
      summary: artifact.summary ?? null,
      created_at: now,
      expires_at: artifact.expiresAt ?? null,
    }
    await db.transaction().execute((trx) => insertArtifactRows(trx, row, stored.encoding))
    return toArtifact(row)
  }

  /** One artifact by id. */
  async get(id: string): Promise<Artifact> {
    parseInput(artifactId, id, 'artifact id')
    const row = await this.#config.db
      .selectFrom('artifacts')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no artifact ${id}`, { value: id })
    return toArtifact(row)
  }

  /** A cell's artifacts, newest first by default, optionally of one type, a page at a time. */
  async list(cell: string, options: ListArtifactsOptions = {}): Promise<ArtifactPage> {
    parseInput(cellId, cell, 'cell id')
    const { type, limit, cursor, order } = parseInput(listOptionsSchema, options, 'artifact list options')
    let query = this.#config.db.selectFrom('artifacts').selectAll().where('cell_id', '=', cell)
    if (type) query = query.where('type', '=', type)
    if (cursor !== undefined) {
      // The cursor carries the listing it belongs to: another order or type is a mistake.
      const [time, id] = decodeCursor(cursor, ['number', 'string'], `artifacts:${order}:${type ?? ''}`) as [
        number,
        string,
      ]
      const op = order === 'desc' ? '<' : '>'
      query = query.where((eb) =>
        eb.or([eb('created_at', op, time), eb.and([eb('created_at', '=', time), eb('id', op, id)])]),
      )
    }
    const rows = await query
      .orderBy('created_at', order)
      .orderBy('id', order)
      .limit(limit + 1)
      .execute()
    const items = rows.slice(0, limit).map(toArtifact)
    const last = items.at(-1)
    return {
      items,
      nextCursor:
        rows.length > limit && last
          ? encodeCursor([last.createdAt, last.id], `artifacts:${order}:${type ?? ''}`)
          : null,
    }
  }

  /** Opens an artifact's content (all of it, verified, or a range) with its content type. */
  async open(id: string, options: OpenArtifactOptions = {}): Promise<OpenedArtifact> {
    const parsed = parseInput(openOptionsSchema, options, 'open options')
    const artifact = await this.get(id)
    if (artifact.status === 'missing') {
      throw new HiveStorageError(
        'NOT_FOUND',
        `the content of artifact ${id} is missing (blob ${artifact.blobHash})`,
        { value: id },
      )
    }
    let content: OpenedContent
    try {
      content = await this.#config.content.open(artifact.blobHash, {
        contentType: artifact.contentType,
        ...(parsed.range
          ? {
              range:
                parsed.range.length === undefined
                  ? { offset: parsed.range.offset }
                  : { offset: parsed.range.offset, length: parsed.range.length },
            }
          : {}),
        ...(parsed.verify === undefined ? {} : { verify: parsed.verify }),
      })
    } catch (error) {
      if ((error as { code?: string }).code === 'NOT_FOUND') {
        throw new HiveStorageError(
          'NOT_FOUND',
          `the content of artifact ${id} is missing (blob ${artifact.blobHash})`,
          {
            value: id,
            cause: error,
          },
        )
      }
      throw error
    }
    return { ...content, artifact }
  }

  /** Deletes one artifact's row (its content goes with the next gc). Returns whether it existed. */
  async delete(id: string): Promise<boolean> {
    parseInput(artifactId, id, 'artifact id')
    const result = await this.#config.db.deleteFrom('artifacts').where('id', '=', id).executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }

  /** Deletes every artifact of a cell, optionally only of one type; returns how many. */
  async deleteForCell(cell: string, options: { type?: ArtifactType } = {}): Promise<number> {
    parseInput(cellId, cell, 'cell id')
    if (options.type !== undefined) parseInput(artifactTypeSchema, options.type, 'artifact type')
    let query = this.#config.db.deleteFrom('artifacts').where('cell_id', '=', cell)
    if (options.type) query = query.where('type', '=', options.type)
    const result = await query.executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  /** Whether any artifact refers to a blob (for the blob store's gc). */
  async isReferenced(hash: string): Promise<boolean> {
    const row = await this.#config.db
      .selectFrom('artifacts')
      .select('id')
      .where('blob_hash', '=', hash)
      .limit(1)
      .executeTakeFirst()
    return row !== undefined
  }

  /** Drops `blobs` rows that no artifact refers to any more, among `hashes` (after gc removed their files). */
  async forgetBlobs(hashes: readonly string[]): Promise<number> {
    let forgotten = 0
    for (let i = 0; i < hashes.length; i += 500) {
      const chunk = hashes.slice(i, i + 500)
      const result = await this.#config.db
        .deleteFrom('blobs')
        .where('hash', 'in', chunk)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(selectFrom('artifacts').select('id').whereRef('artifacts.blob_hash', '=', 'blobs.hash')),
          ),
        )
        .executeTakeFirst()
      forgotten += Number(result.numDeletedRows)
    }
    return forgotten
  }
}
