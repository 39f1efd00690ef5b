import { HiveStorageError, parseInput } from '@hive/errors'
import {
  type Database,
  type EventSource,
  eventSourceSchema,
  idSchema,
  ids,
  type JsonObject,
  jsonObjectSchema,
  type NewSession,
  newSessionSchema,
  type SessionMode,
  type SessionRow,
  type SessionStatus,
  sessionStatusSchema,
} from '@hive/schema'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { fromJson, toJson } from './json.js'
import { insertEvent } from './timeline.js'

export interface Session {
  readonly id: string
  readonly cellId: string
  readonly provider: string
  readonly externalId: string | null
  readonly parentSessionId: string | null
  readonly title: string | null
  readonly mode: SessionMode
  readonly status: SessionStatus
  readonly model: string | null
  readonly error: JsonObject | null
  /** The provider's own session object (OpenCode's `Session`), kept whole. */
  readonly data: JsonObject | null
  readonly createdAt: number
  readonly updatedAt: number
  readonly completedAt: number | null
}

export const toSession = (row: SessionRow): Session => ({
  id: row.id,
  cellId: row.cell_id,
  provider: row.provider,
  externalId: row.external_id,
  parentSessionId: row.parent_session_id,
  title: row.title,
  mode: row.mode,
  status: row.status,
  model: row.model,
  error: fromJson<JsonObject>(row.error),
  data: fromJson<JsonObject>(row.data),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  completedAt: row.completed_at,
})

const sessionId = idSchema('session')
const cellId = idSchema('cell')
const updateSchema = z
  .object({
    title: z.string().max(2000).nullable().optional(),
    status: sessionStatusSchema.optional(),
    model: z.string().min(1).max(200).nullable().optional(),
    error: jsonObjectSchema.nullable().optional(),
    data: jsonObjectSchema.nullable().optional(),
  })
  .strict()
  .refine((u) => Object.keys(u).length > 0, 'must change at least one field')

/** Agent sessions of cells. */
export class SessionService {
  readonly #db: Kysely<Database>
  readonly #now: () => number

  constructor(config: { db: Kysely<Database>; now?: () => number }) {
    this.#db = config.db
    this.#now = config.now ?? Date.now
  }

  async create(
    input: NewSession & { data?: JsonObject },
    options: { source?: EventSource } = {},
  ): Promise<Session> {
    const { data, ...rest } = input
    const session = parseInput(newSessionSchema, rest, 'session')
    const source = parseInput(eventSourceSchema, options.source ?? 'system', 'event source')
    const now = this.#now()
    const row: SessionRow = {
      id: session.id ?? ids.session(),
      cell_id: session.cellId,
      provider: session.provider,
      external_id: session.externalId ?? null,
      parent_session_id: session.parentSessionId ?? null,
      title: session.title ?? null,
      mode: session.mode,
      status: session.status,
      model: session.model ?? null,
      error: null,
      data:
        data === undefined
          ? null
          : toJson(parseInput(jsonObjectSchema, data, 'session data'), 'session data'),
      created_at: session.createdAt ?? now,
      updated_at: now,
      completed_at: null,
    }
    await this.#db.transaction().execute(async (trx) => {
      const cell = await trx.selectFrom('cells').select('id').where('id', '=', row.cell_id).executeTakeFirst()
      if (!cell)
        throw new HiveStorageError('NOT_FOUND', `there is no cell ${row.cell_id}`, { value: row.cell_id })
      if (row.parent_session_id) {
        const parent = await trx
          .selectFrom('sessions')
          .select('cell_id')
          .where('id', '=', row.parent_session_id)
          .executeTakeFirst()
        if (parent?.cell_id !== row.cell_id) {
          throw new HiveStorageError(
            'NOT_FOUND',
            `cell ${row.cell_id} has no session ${row.parent_session_id}`,
            { value: row.parent_session_id },
          )
        }
      }
      if (row.external_id !== null) {
        const taken = await trx
          .selectFrom('sessions')
          .select('id')
          .where('provider', '=', row.provider)
          .where('external_id', '=', row.external_id)
          .executeTakeFirst()
        if (taken) {
          throw new HiveStorageError(
            'CONFLICT',
            `${row.provider} session ${row.external_id} is already stored as ${taken.id}`,
            { value: row.external_id },
          )
        }
      }
      await trx.insertInto('sessions').values(row).execute()
      await insertEvent(
        trx,
        {
          cellId: row.cell_id,
          sessionId: row.id,
          type: 'session.created',
          source,
          payload: { provider: row.provider },
        },
        now,
      )
    })
    return toSession(row)
  }

  async get(id: string): Promise<Session> {
    parseInput(sessionId, id, 'session id')
    const row = await this.#db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no session ${id}`, { value: id })
    return toSession(row)
  }

  async findByExternalId(provider: string, externalId: string): Promise<Session | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('provider', '=', provider)
      .where('external_id', '=', externalId)
      .executeTakeFirst()
    return row ? toSession(row) : undefined
  }

  /** A cell's sessions, oldest first. */
  async list(cell: string): Promise<Session[]> {
    parseInput(cellId, cell, 'cell id')
    return (
      await this.#db
        .selectFrom('sessions')
        .selectAll()
        .where('cell_id', '=', cell)
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    ).map(toSession)
  }

  async update(id: string, change: z.input<typeof updateSchema>): Promise<Session> {
    parseInput(sessionId, id, 'session id')
    const u = parseInput(updateSchema, change, 'session change')
    const now = this.#now()
    const values = {
      updated_at: now,
      ...(u.title !== undefined ? { title: u.title } : {}),
      ...(u.status !== undefined ? { status: u.status } : {}),
      ...(u.status === 'completed' ? { completed_at: now } : {}),
      ...(u.model !== undefined ? { model: u.model } : {}),
      ...(u.error !== undefined ? { error: u.error === null ? null : toJson(u.error, 'session error') } : {}),
      ...(u.data !== undefined ? { data: u.data === null ? null : toJson(u.data, 'session data') } : {}),
    }
    const result = await this.#db.updateTable('sessions').set(values).where('id', '=', id).executeTakeFirst()
    if (Number(result.numUpdatedRows) === 0)
      throw new HiveStorageError('NOT_FOUND', `there is no session ${id}`, { value: id })
    return this.get(id)
  }

  async delete(id: string): Promise<boolean> {
    parseInput(sessionId, id, 'session id')
    const result = await this.#db.deleteFrom('sessions').where('id', '=', id).executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }
}
