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
import type { Kysely } from 'kysely'
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

  /** Aggregates of the samples matching `filter`, over all of them. */
  async aggregate(filter: MetricFilter = {}): Promise<MetricAggregate | null> {
    const groups = await this.#aggregate(filter, false)
    return groups.get('') ?? null
  }

  /** The same per cell (samples without a cell are left out). */
  async aggregateByCell(filter: MetricFilter = {}): Promise<Map<string, MetricAggregate>> {
    return this.#aggregate(filter, true)
  }

  /** The samples as CSV (with a header), a JSON array or JSON lines, streamed a chunk at a time. */
  async *export(filter: MetricFilter & { format: 'csv' | 'json' | 'jsonl' }): AsyncGenerator<string> {
    const { format, ...rest } = filter
    parseInput(formatSchema, format, 'export format')
    const f = parseInput(filterSchema, rest, 'metric filter')
    if (format === 'csv') yield 'id,created_at,name,value,unit,cell_id,session_id,tags\n'
    let chunk = format === 'json' ? '[' : ''
    let first = true
    for await (const row of this.#filtered(f).selectAll().orderBy('created_at').orderBy('id').stream(500)) {
      if (format === 'csv') {
        chunk += `${[row.id, String(row.created_at), row.name, String(row.value), row.unit ?? '', row.cell_id ?? '', row.session_id ?? '', row.tags].map(csvField).join(',')}\n`
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
      if (chunk.length > 64 * 1024) {
        yield chunk
        chunk = ''
      }
    }
    if (format === 'json') chunk += first ? ']\n' : '\n]\n'
    if (chunk) yield chunk
  }

  async #aggregate(filter: MetricFilter, byCell: boolean): Promise<Map<string, MetricAggregate>> {
    const f = parseInput(filterSchema, filter, 'metric filter')
    let select = this.#filtered(f).select(['cell_id', 'value'])
    if (byCell) select = select.where('cell_id', 'is not', null).orderBy('cell_id')
    // Sorted values, one group at a time: percentiles need order, and memory holds one group.
    const result = new Map<string, MetricAggregate>()
    let group: string | undefined
    let values: number[] = []
    const flush = () => {
      if (group !== undefined && values.length > 0) result.set(group, summarise(values))
      values = []
    }
    for await (const row of select.orderBy('value').stream(1000)) {
      const key = byCell ? (row.cell_id as string) : ''
      if (key !== group) {
        flush()
        group = key
      }
      values.push(row.value)
    }
    flush()
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

function summarise(sorted: number[]): MetricAggregate {
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    count: sorted.length,
    sum,
    min: sorted[0] as number,
    max: sorted.at(-1) as number,
    mean: sum / sorted.length,
    p50: rank(50),
    p95: rank(95),
  }
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}
