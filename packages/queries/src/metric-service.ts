import { parseInput } from '@hive/errors'
import {
  type Database,
  idSchema,
  ids,
  type JsonObject,
  type NewMetric,
  newMetricSchema,
  timestampSchema,
} from '@hive/schema'
import { type Kysely, sql } from 'kysely'
import { z } from 'zod'
import { fromJson, toJson } from './json.js'

export interface MetricSample {
  readonly id: string
  readonly cellId: string | null
  readonly sessionId: string | null
  readonly name: string
  readonly value: number
  readonly unit: string | null
  readonly tags: JsonObject
  readonly createdAt: number
}

export interface MetricAggregate {
  readonly count: number
  readonly sum: number
  readonly min: number
  readonly max: number
  readonly mean: number
  /** Nearest-rank percentiles. */
  readonly p50: number
  readonly p95: number
}

const filterSchema = z
  .object({
    name: z.string().min(1).max(100).optional(),
    cellId: idSchema('cell').optional(),
    from: timestampSchema.optional(),
    to: timestampSchema.optional(),
  })
  .strict()
export type MetricFilter = z.input<typeof filterSchema>
const aggregateSchema = filterSchema.required({ name: true })
export type AggregateFilter = z.input<typeof aggregateSchema>
/** Samples read per query of an export. */
const EXPORT_CHUNK = 500
const formatSchema = z.enum(['csv', 'json', 'jsonl'])

/**
 * Metric samples (lifecycle timings, human interventions, agent retries…): recording,
 * aggregates (count, sum, p50, p95) per cell and overall, and export as CSV or JSON lines.
 */
export class MetricService {
  readonly #db: Kysely<Database>
  readonly #now: () => number

  constructor(config: { db: Kysely<Database>; now?: () => number }) {
    this.#db = config.db
    this.#now = config.now ?? Date.now
  }

  async record(input: NewMetric): Promise<MetricSample> {
    const m = parseInput(newMetricSchema, input, 'metric sample')
    const row = {
      id: m.id ?? ids.metric(),
      cell_id: m.cellId ?? null,
      session_id: m.sessionId ?? null,
      name: m.name,
      value: m.value,
      unit: m.unit ?? null,
      tags: toJson(m.tags ?? {}, 'metric tags'),
      created_at: m.createdAt ?? this.#now(),
    }
    await this.#db.insertInto('metrics').values(row).execute()
    return {
      id: row.id,
      cellId: row.cell_id,
      sessionId: row.session_id,
      name: row.name,
      value: row.value,
      unit: row.unit,
      tags: m.tags ?? {},
      createdAt: row.created_at,
    }
  }

  /**
   * Aggregates of one metric's samples matching `filter` (a metric has one unit: aggregates across
   * names would mix them), or null when there are none. Computed in SQLite, in one query.
   */
  async aggregate(filter: AggregateFilter): Promise<MetricAggregate | null> {
    const groups = await this.#aggregate(filter, false)
    return groups.get('') ?? null
  }

  /** The same per cell (samples without a cell are left out). */
  async aggregateByCell(filter: AggregateFilter): Promise<Map<string, MetricAggregate>> {
    return this.#aggregate(filter, true)
  }

  /**
   * The samples as CSV (with a header), a JSON array or JSON lines, in the order they were
   * recorded (by id), a chunk of text at a time. Each chunk is read by its own short query, so
   * a slow reader holds no connection and blocks no writer; samples recorded during the export
   * are included if they come after the point reached. CSV is for spreadsheets: a text field
   * that starts like a formula (`=`, `+`, `-`, `@`) gets a leading `'`; JSON keeps values as they are.
   */
  async *export(filter: MetricFilter & { format: 'csv' | 'json' | 'jsonl' }): AsyncGenerator<string> {
    const { format, ...rest } = filter
    parseInput(formatSchema, format, 'export format')
    const f = parseInput(filterSchema, rest, 'metric filter')
    if (format === 'csv') yield 'id,created_at,name,value,unit,cell_id,session_id,tags\n'
    let chunk = format === 'json' ? '[' : ''
    let first = true
    let after: string | undefined
    for (;;) {
      let select = this.#filtered(f).selectAll()
      if (after !== undefined) select = select.where('id', '>', after)
      const rows = await select.orderBy('id').limit(EXPORT_CHUNK).execute()
      for (const row of rows) {
        if (format === 'csv') {
          chunk += `${[
            csvText(row.id),
            String(row.created_at),
            csvText(row.name),
            String(row.value),
            csvText(row.unit ?? ''),
            csvText(row.cell_id ?? ''),
            csvText(row.session_id ?? ''),
            csvText(row.tags),
          ].join(',')}\n`
        } else {
          const separator = format === 'json' ? (first ? '\n' : ',\n') : ''
          first = false
          chunk += `${separator}${JSON.stringify({
            id: row.id,
            createdAt: row.created_at,
            name: row.name,
            value: row.value,
            unit: row.unit,
            cellId: row.cell_id,
            sessionId: row.session_id,
            tags: fromJson(row.tags) ?? {},
          })}${format === 'jsonl' ? '\n' : ''}`
        }
      }
      if (chunk.length > 64 * 1024) {
        yield chunk
        chunk = ''
      }
      if (rows.length < EXPORT_CHUNK) break
      after = (rows.at(-1) as { id: string }).id
    }
    if (format === 'json') chunk += first ? ']\n' : '\n]\n'
    if (chunk) yield chunk
  }

  async #aggregate(filter: AggregateFilter, byCell: boolean): Promise<Map<string, MetricAggregate>> {
    const f = parseInput(aggregateSchema, filter, 'metric filter')
    const group = byCell ? sql.ref('cell_id') : sql.lit('')
    let ranked = this.#filtered(f).select([
      group.as('grp'),
      'value',
      sql<number>`row_number() OVER (PARTITION BY ${group} ORDER BY value)`.as('r'),
      sql<number>`count(*) OVER (PARTITION BY ${group})`.as('n'),
    ])
    if (byCell) ranked = ranked.where('cell_id', 'is not', null)
    // Nearest rank: the ceil(p% of n)-th smallest value, in integer arithmetic.
    const rank = (p: number) => sql<number>`max(CASE WHEN r = (n * ${sql.lit(p)} + 99) / 100 THEN value END)`
    const rows = await this.#db
      .selectFrom(ranked.as('ranked'))
      .select([
        'grp',
        sql<number>`count(*)`.as('count'),
        sql<number>`sum(value)`.as('sum'),
        sql<number>`min(value)`.as('min'),
        sql<number>`max(value)`.as('max'),
        rank(50).as('p50'),
        rank(95).as('p95'),
      ])
      .groupBy('grp')
      .execute()
    const result = new Map<string, MetricAggregate>()
    for (const row of rows) {
      result.set(String(row.grp), {
        count: row.count,
        sum: row.sum,
        min: row.min,
        max: row.max,
        mean: row.sum / row.count,
        p50: row.p50,
        p95: row.p95,
      })
    }
    return result
  }

  #filtered(f: z.output<typeof filterSchema>) {
    let select = this.#db.selectFrom('metrics')
    if (f.name !== undefined) select = select.where('name', '=', f.name)
    if (f.cellId !== undefined) select = select.where('cell_id', '=', f.cellId)
    if (f.from !== undefined) select = select.where('created_at', '>=', f.from)
    if (f.to !== undefined) select = select.where('created_at', '<', f.to)
    return select
  }
}

/** A CSV field: quoted when needed, and never read as a formula by a spreadsheet. */
function csvText(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe
}
