import { HiveStorageError, parseInput } from '@hive/errors'
import {
  type Database,
  type EventSource,
  eventSourceSchema,
  eventTypeSchema,
  ids,
  type JsonObject,
  type NewEvent,
  newEventSchema,
  timestampSchema,
} from '@hive/schema'
import { type Kysely, sql, type Transaction } from 'kysely'
import { z } from 'zod'
import { decodeCursor, encodeCursor } from './cursor.js'
import { fromJson, toJson } from './json.js'

/** One entry of the activity timeline. */
export interface TimelineEvent {
  readonly id: string
  readonly cellId: string | null
  readonly sessionId: string | null
  readonly type: string
  readonly source: EventSource
  readonly payload: JsonObject
  readonly createdAt: number
}

type Executor = Kysely<Database> | Transaction<Database>

/** Inserts an event with an executor (a transaction of another service, typically). */
export async function insertEvent(db: Executor, input: NewEvent, now: number): Promise<TimelineEvent> {
  const event = parseInput(newEventSchema, input, 'event')
  const row = {
    id: event.id ?? ids.event(),
    cell_id: event.cellId ?? null,
    session_id: event.sessionId ?? null,
    type: event.type,
    source: event.source,
    payload: toJson(event.payload ?? {}, 'event payload'),
    created_at: event.createdAt ?? now,
  }
  await db.insertInto('events').values(row).execute()
  return {
    id: row.id,
    cellId: row.cell_id,
    sessionId: row.session_id,
    type: row.type,
    source: row.source,
    payload: event.payload ?? {},
    createdAt: row.created_at,
  }
}

const listSchema = z
  .object({
    cellId: z.string().optional(),
    sessionId: z.string().optional(),
    types: z.array(eventTypeSchema).min(1).max(50).optional(),
    sources: z.array(eventSourceSchema).min(1).optional(),
    from: timestampSchema.optional(),
    to: timestampSchema.optional(),
    limit: z.int().min(1).max(1000).default(100),
    cursor: z.string().optional(),
    order: z.enum(['asc', 'desc']).default('desc'),
  })
  .strict()
export type TimelineQuery = z.input<typeof listSchema>

const bucketSchema = z
  .object({
    cellId: z.string().optional(),
    sessionId: z.string().optional(),
    types: z.array(eventTypeSchema).min(1).max(50).optional(),
    sources: z.array(eventSourceSchema).min(1).optional(),
    from: timestampSchema,
    to: timestampSchema,
    bucket: z.enum(['minute', 'hour', 'day']),
  })
  .strict()
  .refine((q) => q.to > q.from, 'to must be after from')
export type TimelineBucketsQuery = z.input<typeof bucketSchema>

const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const
/** Charts want a bounded number of points. */
const MAX_BUCKETS = 10_000

/**
 * The activity timeline: events by cell, session, type, source and time, a page at a time, and
 * counts per minute, hour or day for charts.
 *
 * @example
 * ```ts
 * const page = await timeline.list({ cellId, types: ['cell.status_changed'], limit: 50 })
 * const chart = await timeline.buckets({ cellId, from, to, bucket: 'hour' })
 * ```
 */
export class TimelineService {
  readonly #db: Kysely<Database>
  readonly #now: () => number

  constructor(config: { db: Kysely<Database>; now?: () => number }) {
    this.#db = config.db
    this.#now = config.now ?? Date.now
  }

  record(input: NewEvent): Promise<TimelineEvent> {
    return insertEvent(this.#db, input, this.#now())
  }

  /** Events, newest first by default, keyset-paged by (time, id). */
  async list(query: TimelineQuery = {}): Promise<{ items: TimelineEvent[]; nextCursor: string | null }> {
    const q = parseInput(listSchema, query, 'timeline query')
    const after =
      q.cursor === undefined ? undefined : decodeCursor(q.cursor, ['number', 'string'], `timeline:${q.order}`)
    let select = this.#filtered(q).selectAll()
    if (after) {
      const [time, id] = after as [number, string]
      select = select.where((eb) =>
        q.order === 'desc'
          ? eb.or([eb('created_at', '<', time), eb.and([eb('created_at', '=', time), eb('id', '<', id)])])
          : eb.or([eb('created_at', '>', time), eb.and([eb('created_at', '=', time), eb('id', '>', id)])]),
      )
    }
    const rows = await select
      .orderBy('created_at', q.order)
      .orderBy('id', q.order)
      .limit(q.limit + 1)
      .execute()
    const items = rows.slice(0, q.limit).map((row) => ({
      id: row.id,
      cellId: row.cell_id,
      sessionId: row.session_id,
      type: row.type,
      source: row.source,
      payload: fromJson<JsonObject>(row.payload) ?? {},
      createdAt: row.created_at,
    }))
    const last = items.at(-1)
    return {
      items,
      nextCursor:
        rows.length > q.limit && last ? encodeCursor([last.createdAt, last.id], `timeline:${q.order}`) : null,
    }
  }

  /** How many events fell in each minute, hour or day of a range (empty buckets included). */
  async buckets(query: TimelineBucketsQuery): Promise<Array<{ start: number; count: number }>> {
    const q = parseInput(bucketSchema, query, 'timeline buckets query')
    const size = BUCKET_MS[q.bucket]
    const first = Math.floor(q.from / size) * size
    const count = Math.ceil((q.to - first) / size)
    if (count > MAX_BUCKETS) {
      throw new HiveStorageError(
        'INVALID_INPUT',
        `that range holds ${count} ${q.bucket}s; at most ${MAX_BUCKETS} buckets`,
        {
          value: query,
        },
      )
    }
    const rows = await this.#filtered({ ...q, from: q.from, to: q.to })
      // A literal: a bound number is a REAL to SQLite, and the division must be an integer one.
      .select([
        sql<number>`(created_at / ${sql.lit(size)}) * ${sql.lit(size)}`.as('start'),
        (eb) => eb.fn.countAll<number>().as('count'),
      ])
      .groupBy('start')
      .execute()
    const found = new Map(rows.map((row) => [Number(row.start), Number(row.count)]))
    return Array.from({ length: count }, (_, i) => ({
      start: first + i * size,
      count: found.get(first + i * size) ?? 0,
    }))
  }

  #filtered(q: {
    cellId?: string | undefined
    sessionId?: string | undefined
    types?: string[] | undefined
    sources?: string[] | undefined
    from?: number | undefined
    to?: number | undefined
  }) {
    let select = this.#db.selectFrom('events')
    if (q.cellId !== undefined) select = select.where('cell_id', '=', q.cellId)
    if (q.sessionId !== undefined) select = select.where('session_id', '=', q.sessionId)
    if (q.types) select = select.where('type', 'in', q.types)
    if (q.sources) select = select.where('source', 'in', q.sources as EventSource[])
    if (q.from !== undefined) select = select.where('created_at', '>=', q.from)
    if (q.to !== undefined) select = select.where('created_at', '<', q.to)
    return select
  }
}
