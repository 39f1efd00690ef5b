import { HiveStorageError, parseInput } from '@hive/errors'
import {
  CELL_STATUS_TRANSITIONS,
  CELL_STATUSES,
  type CellLinkType,
  type CellPatch,
  type CellProvisioningInput,
  type CellRow,
  type CellStatus,
  type CellType,
  canTransition,
  cellLinkTypeSchema,
  cellPatchSchema,
  cellProvisioningInputSchema,
  cellStatusSchema,
  cellTypeSchema,
  type Database,
  type EventSource,
  eventSourceSchema,
  idSchema,
  ids,
  type JsonObject,
  type NewCell,
  type NewCellLink,
  type NewCellService,
  newCellLinkSchema,
  newCellSchema,
  newCellServiceSchema,
  type ServiceStatus,
  type StartMode,
  serviceStatusSchema,
  timestampSchema,
} from '@hive/schema'
import { type ExpressionBuilder, type Kysely, sql } from 'kysely'
import { z } from 'zod'
import { decodeCursor, encodeCursor } from './cursor.js'
import { ftsString, userQuery } from './fts-query.js'
import { fromJson, toJson } from './json.js'
import { insertEvent } from './timeline.js'

/** A cell: one agent workspace. */
export interface Cell {
  readonly id: string
  readonly workspaceId: string
  readonly name: string
  readonly description: string | null
  readonly type: CellType
  readonly status: CellStatus
  readonly templateId: string | null
  readonly workspacePath: string | null
  readonly branchName: string | null
  readonly baseCommit: string | null
  readonly opencodeSessionId: string | null
  readonly lastSetupError: string | null
  readonly metadata: JsonObject
  readonly createdAt: number
  readonly updatedAt: number
  readonly completedAt: number | null
  readonly archivedAt: number | null
}

export function toCell(row: Omit<CellRow, 'rid'>): Cell {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    description: row.description,
    type: row.type,
    status: row.status,
    templateId: row.template_id,
    workspacePath: row.workspace_path,
    branchName: row.branch_name,
    baseCommit: row.base_commit,
    opencodeSessionId: row.opencode_session_id,
    lastSetupError: row.last_setup_error,
    metadata: fromJson<JsonObject>(row.metadata) ?? {},
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
    archivedAt: row.archived_at,
  }
}

export interface CellProvisioning {
  readonly cellId: string
  readonly attemptCount: number
  readonly startMode: StartMode
  readonly modelIdOverride: string | null
  readonly providerIdOverride: string | null
  readonly lastError: string | null
  readonly startedAt: number | null
  readonly finishedAt: number | null
  readonly updatedAt: number
}

export interface CellProcess {
  readonly id: string
  readonly cellId: string
  readonly name: string
  readonly type: string
  readonly command: string | null
  readonly cwd: string | null
  readonly env: Readonly<Record<string, string>>
  readonly port: number | null
  readonly pid: number | null
  readonly status: ServiceStatus
  readonly lastError: string | null
  readonly createdAt: number
  readonly updatedAt: number
}

export interface CellLink {
  readonly fromCellId: string
  readonly toCellId: string
  readonly type: CellLinkType
  readonly createdAt: number
}

const cellId = idSchema('cell')
const serviceId = idSchema('service')
const serviceDetailsSchema = z
  .object({
    pid: z.int().positive().nullable().optional(),
    port: z.int().min(1).max(65_535).nullable().optional(),
    lastError: z.string().max(20_000).nullable().optional(),
  })
  .strict()
const linkQuerySchema = z
  .object({ direction: z.enum(['out', 'in', 'both']).default('both'), type: cellLinkTypeSchema.optional() })
  .strict()
const metadataKey = z
  .string()
  .regex(
    /^[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100}){0,7}$/,
    'must be a dotted key like owner or ci.provider',
  )

const listSchema = z
  .object({
    workspaceId: idSchema('workspace').optional(),
    statuses: z.array(cellStatusSchema).min(1).optional(),
    types: z.array(cellTypeSchema).min(1).optional(),
    text: z.string().max(1000).optional(),
    metadata: z.record(metadataKey, z.union([z.string().max(1000), z.number(), z.boolean()])).optional(),
    createdFrom: timestampSchema.optional(),
    createdTo: timestampSchema.optional(),
    updatedFrom: timestampSchema.optional(),
    updatedTo: timestampSchema.optional(),
    sort: z.enum(['updated', 'created']).default('updated'),
    order: z.enum(['asc', 'desc']).default('desc'),
    limit: z.int().min(1).max(500).default(50),
    cursor: z.string().optional(),
  })
  .strict()
export type CellListQuery = z.input<typeof listSchema>
type Filters = z.output<typeof listSchema>

const statusOptions = z
  .object({ source: eventSourceSchema.default('system'), reason: z.string().max(2000).optional() })
  .strict()

/**
 * Cells: create, update, get, delete; status changes along the lifecycle only, each recorded on
 * the timeline in the same transaction; listing with filters, keyset pages and counts per status;
 * provisioning state, services (processes) and links between cells.
 *
 * @example
 * ```ts
 * const cell = await cells.create({ workspaceId, name: 'Fix login', type: 'implementation' })
 * await cells.setStatus(cell.id, 'provisioning', { source: 'system' })
 * const page = await cells.list({ workspaceId, statuses: ['active', 'awaiting_input'] })
 * ```
 */
export class CellService {
  readonly #db: Kysely<Database>
  readonly #now: () => number

  constructor(config: { db: Kysely<Database>; now?: () => number }) {
    this.#db = config.db
    this.#now = config.now ?? Date.now
  }

  async create(input: NewCell, options: { source?: EventSource } = {}): Promise<Cell> {
    const cell = parseInput(newCellSchema, input, 'cell')
    const source = parseInput(eventSourceSchema, options.source ?? 'system', 'event source')
    const now = this.#now()
    const row = {
      id: cell.id ?? ids.cell(),
      workspace_id: cell.workspaceId,
      name: cell.name,
      description: cell.description ?? null,
      type: cell.type,
      status: cell.status ?? ('draft' as const),
      template_id: cell.templateId ?? null,
      workspace_path: cell.workspacePath ?? null,
      branch_name: cell.branchName ?? null,
      base_commit: cell.baseCommit ?? null,
      opencode_session_id: cell.opencodeSessionId ?? null,
      last_setup_error: null,
      metadata: toJson(cell.metadata ?? {}, 'cell metadata'),
      created_at: now,
      updated_at: now,
      completed_at: null,
      archived_at: null,
    }
    await this.#db.transaction().execute(async (trx) => {
      const workspace = await trx
        .selectFrom('workspaces')
        .select('id')
        .where('id', '=', row.workspace_id)
        .executeTakeFirst()
      if (!workspace)
        throw new HiveStorageError('NOT_FOUND', `there is no workspace ${row.workspace_id}`, {
          value: row.workspace_id,
        })
      await trx.insertInto('cells').values(row).execute()
      await insertEvent(
        trx,
        {
          cellId: row.id,
          type: 'cell.created',
          source,
          payload: { name: row.name, type: row.type, status: row.status },
        },
        now,
      )
    })
    return toCell(row)
  }

  async get(id: string): Promise<Cell> {
    parseInput(cellId, id, 'cell id')
    const row = await this.#db.selectFrom('cells').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no cell ${id}`, { value: id })
    return toCell(row)
  }

  /** Changes a cell's fields (not its workspace, type or status). */
  async update(id: string, patch: CellPatch, options: { source?: EventSource } = {}): Promise<Cell> {
    parseInput(cellId, id, 'cell id')
    const change = parseInput(cellPatchSchema, patch, 'cell change')
    const source = parseInput(eventSourceSchema, options.source ?? 'system', 'event source')
    const now = this.#now()
    const values: Record<string, unknown> = { updated_at: now }
    const map: Record<string, string> = {
      name: 'name',
      description: 'description',
      templateId: 'template_id',
      workspacePath: 'workspace_path',
      branchName: 'branch_name',
      baseCommit: 'base_commit',
      opencodeSessionId: 'opencode_session_id',
      lastSetupError: 'last_setup_error',
    }
    for (const [key, column] of Object.entries(map)) {
      if (key in change) values[column] = (change as Record<string, unknown>)[key] ?? null
    }
    if (change.metadata !== undefined) values.metadata = toJson(change.metadata, 'cell metadata')
    return this.#db.transaction().execute(async (trx) => {
      const result = await trx.updateTable('cells').set(values).where('id', '=', id).executeTakeFirst()
      if (Number(result.numUpdatedRows) === 0)
        throw new HiveStorageError('NOT_FOUND', `there is no cell ${id}`, { value: id })
      await insertEvent(
        trx,
        { cellId: id, type: 'cell.updated', source, payload: { fields: Object.keys(change) } },
        now,
      )
      return toCell(await trx.selectFrom('cells').selectAll().where('id', '=', id).executeTakeFirstOrThrow())
    })
  }

  /**
   * Moves a cell to another status, if the lifecycle allows it (`CONFLICT` otherwise), and
   * records `cell.status_changed` on the timeline in the same transaction.
   */
  async setStatus(
    id: string,
    to: CellStatus,
    options: { source?: EventSource; reason?: string } = {},
  ): Promise<Cell> {
    parseInput(cellId, id, 'cell id')
    parseInput(cellStatusSchema, to, 'cell status')
    const { source, reason } = parseInput(statusOptions, options, 'status change options')
    const now = this.#now()
    return this.#db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('cells').select('status').where('id', '=', id).executeTakeFirst()
      if (!current) throw new HiveStorageError('NOT_FOUND', `there is no cell ${id}`, { value: id })
      if (!canTransition(current.status, to)) {
        const allowed = CELL_STATUS_TRANSITIONS[current.status]
        throw new HiveStorageError(
          'CONFLICT',
          `cell ${id} cannot go from ${current.status} to ${to} (allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none'})`,
          { value: { from: current.status, to } },
        )
      }
      await trx
        .updateTable('cells')
        .set({
          status: to,
          updated_at: now,
          ...(to === 'completed' ? { completed_at: now } : {}),
          ...(to === 'archived' ? { archived_at: now } : {}),
        })
        .where('id', '=', id)
        .where('status', '=', current.status)
        .execute()
      await insertEvent(
        trx,
        {
          cellId: id,
          type: 'cell.status_changed',
          source,
          payload: { from: current.status, to, ...(reason ? { reason } : {}) },
        },
        now,
      )
      return toCell(await trx.selectFrom('cells').selectAll().where('id', '=', id).executeTakeFirstOrThrow())
    })
  }

  /** Deletes a cell and everything of it (sessions, transcripts, plans, artifacts, events). */
  async delete(id: string, options: { source?: EventSource } = {}): Promise<boolean> {
    parseInput(cellId, id, 'cell id')
    const source = parseInput(eventSourceSchema, options.source ?? 'system', 'event source')
    const now = this.#now()
    return this.#db.transaction().execute(async (trx) => {
      const cell = await trx
        .selectFrom('cells')
        .select(['name', 'workspace_id'])
        .where('id', '=', id)
        .executeTakeFirst()
      if (!cell) return false
      await trx.deleteFrom('cells').where('id', '=', id).execute()
      // The cell's own events go with it; this one stays, for the workspace's history.
      await insertEvent(
        trx,
        {
          type: 'cell.deleted',
          source,
          payload: { cellId: id, name: cell.name, workspaceId: cell.workspace_id },
        },
        now,
      )
      return true
    })
  }

  /**
   * Cells matching filters, a page at a time: most recently updated first by default; the
   * cursor (opaque) is stable while cells are added.
   */
  async list(query: CellListQuery = {}): Promise<{ items: Cell[]; nextCursor: string | null }> {
    const q = parseInput(listSchema, query, 'cell list query')
    const key = q.sort === 'updated' ? 'updated_at' : 'created_at'
    let select = this.#filtered(q, true).selectAll()
    if (q.cursor !== undefined) {
      const [time, id] = decodeCursor(q.cursor, ['number', 'string'], `cells:${q.sort}:${q.order}`) as [
        number,
        string,
      ]
      const op = q.order === 'desc' ? '<' : '>'
      select = select.where((eb) =>
        eb.or([eb(key, op, time), eb.and([eb(key, '=', time), eb('id', op, id)])]),
      )
    }
    const rows = await select
      .orderBy(key, q.order)
      .orderBy('id', q.order)
      .limit(q.limit + 1)
      .execute()
    const items = rows.slice(0, q.limit).map(toCell)
    const last = items.at(-1)
    return {
      items,
      nextCursor:
        rows.length > q.limit && last
          ? encodeCursor(
              [q.sort === 'updated' ? last.updatedAt : last.createdAt, last.id],
              `cells:${q.sort}:${q.order}`,
            )
          : null,
    }
  }

  /** How many cells match the filters, per status (every status listed, zeros included). */
  async countByStatus(
    query: Omit<CellListQuery, 'statuses' | 'sort' | 'order' | 'limit' | 'cursor'> = {},
  ): Promise<Record<CellStatus, number>> {
    const q = parseInput(listSchema, query, 'cell count query')
    const rows = await this.#filtered(q, false)
      .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy('status')
      .execute()
    const counts = Object.fromEntries(CELL_STATUSES.map((status) => [status, 0])) as Record<
      CellStatus,
      number
    >
    for (const row of rows) counts[row.status] = Number(row.count)
    return counts
  }

  #filtered(q: Filters, withStatus: boolean) {
    let select = this.#db.selectFrom('cells')
    if (q.workspaceId !== undefined) select = select.where('workspace_id', '=', q.workspaceId)
    if (withStatus && q.statuses) select = select.where('status', 'in', q.statuses)
    if (q.types) select = select.where('type', 'in', q.types)
    if (q.createdFrom !== undefined) select = select.where('created_at', '>=', q.createdFrom)
    if (q.createdTo !== undefined) select = select.where('created_at', '<', q.createdTo)
    if (q.updatedFrom !== undefined) select = select.where('updated_at', '>=', q.updatedFrom)
    if (q.updatedTo !== undefined) select = select.where('updated_at', '<', q.updatedTo)
    for (const [key, value] of Object.entries(q.metadata ?? {})) {
      const path = `$.${key
        .split('.')
        .map((part) => `"${part}"`)
        .join('.')}`
      const wanted = typeof value === 'boolean' ? Number(value) : value
      select = select.where(sql<unknown>`json_extract(metadata, ${path})`, '=', wanted)
    }
    if (q.text !== undefined) {
      const match = userQuery(q.text, { prefixLast: true })
      // Nothing searchable in the text: nothing matches it.
      if (match === null) return select.where(sql<boolean>`0`)
      // Cells are in the search index (rowid = rid * 8 + 1): the text filter is an index lookup.
      select = select.where((eb: ExpressionBuilder<Database, 'cells'>) =>
        eb(
          'rid',
          'in',
          eb
            .selectFrom('search')
            .select(sql<number>`(search.rowid - 1) / 8`.as('rid'))
            .where(sql<boolean>`search MATCH ${`{title body} : (${match}) AND kind : ${ftsString('cell')}`}`),
        ),
      )
    }
    return select
  }

  // ---- provisioning ----

  async getProvisioning(id: string): Promise<CellProvisioning | undefined> {
    parseInput(cellId, id, 'cell id')
    const row = await this.#db
      .selectFrom('cell_provisioning')
      .selectAll()
      .where('cell_id', '=', id)
      .executeTakeFirst()
    return row
      ? {
          cellId: row.cell_id,
          attemptCount: row.attempt_count,
          startMode: row.start_mode,
          modelIdOverride: row.model_id_override,
          providerIdOverride: row.provider_id_override,
          lastError: row.last_error,
          startedAt: row.started_at,
          finishedAt: row.finished_at,
          updatedAt: row.updated_at,
        }
      : undefined
  }

  /** Records a cell's provisioning state (fields not given keep their value). */
  async setProvisioning(input: CellProvisioningInput): Promise<CellProvisioning> {
    const p = parseInput(cellProvisioningInputSchema, input, 'provisioning state')
    const now = this.#now()
    const values = {
      ...(p.attemptCount !== undefined ? { attempt_count: p.attemptCount } : {}),
      ...(p.startMode !== undefined ? { start_mode: p.startMode } : {}),
      ...(p.modelIdOverride !== undefined ? { model_id_override: p.modelIdOverride } : {}),
      ...(p.providerIdOverride !== undefined ? { provider_id_override: p.providerIdOverride } : {}),
      ...(p.lastError !== undefined ? { last_error: p.lastError } : {}),
      ...(p.startedAt !== undefined ? { started_at: p.startedAt } : {}),
      ...(p.finishedAt !== undefined ? { finished_at: p.finishedAt } : {}),
      updated_at: now,
    }
    await this.#mustExist(p.cellId)
    await this.#db
      .insertInto('cell_provisioning')
      .values({
        cell_id: p.cellId,
        attempt_count: 0,
        start_mode: 'build',
        model_id_override: null,
        provider_id_override: null,
        last_error: null,
        started_at: null,
        finished_at: null,
        ...values,
      })
      .onConflict((oc) => oc.column('cell_id').doUpdateSet(values))
      .execute()
    return (await this.getProvisioning(p.cellId)) as CellProvisioning
  }

  // ---- services (the processes a cell runs) ----

  async listServices(id: string): Promise<CellProcess[]> {
    parseInput(cellId, id, 'cell id')
    const rows = await this.#db
      .selectFrom('cell_services')
      .selectAll()
      .where('cell_id', '=', id)
      .orderBy('name')
      .execute()
    return rows.map(toProcess)
  }

  /** Defines (or redefines, by name) a service of a cell. */
  async upsertService(input: NewCellService): Promise<CellProcess> {
    const s = parseInput(newCellServiceSchema, input, 'cell service')
    await this.#mustExist(s.cellId)
    const now = this.#now()
    const values = {
      type: s.type,
      command: s.command ?? null,
      cwd: s.cwd ?? null,
      env: toJson(s.env ?? {}, 'service environment'),
      port: s.port ?? null,
      pid: s.pid ?? null,
      status: s.status ?? ('stopped' as const),
      last_error: s.lastError ?? null,
      updated_at: now,
    }
    await this.#db
      .insertInto('cell_services')
      .values({ id: s.id ?? ids.service(), cell_id: s.cellId, name: s.name, created_at: now, ...values })
      .onConflict((oc) => oc.columns(['cell_id', 'name']).doUpdateSet(values))
      .execute()
    const row = await this.#db
      .selectFrom('cell_services')
      .selectAll()
      .where('cell_id', '=', s.cellId)
      .where('name', '=', s.name)
      .executeTakeFirstOrThrow()
    return toProcess(row)
  }

  async setServiceStatus(
    id: string,
    status: ServiceStatus,
    details: { pid?: number | null; port?: number | null; lastError?: string | null } = {},
  ): Promise<CellProcess> {
    parseInput(serviceId, id, 'service id')
    parseInput(serviceStatusSchema, status, 'service status')
    const d = parseInput(serviceDetailsSchema, details, 'service details')
    const result = await this.#db
      .updateTable('cell_services')
      .set({
        status,
        updated_at: this.#now(),
        ...(d.pid !== undefined ? { pid: d.pid } : {}),
        ...(d.port !== undefined ? { port: d.port } : {}),
        ...(d.lastError !== undefined ? { last_error: d.lastError } : {}),
      })
      .where('id', '=', id)
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) === 0)
      throw new HiveStorageError('NOT_FOUND', `there is no service ${id}`, { value: id })
    return toProcess(
      await this.#db.selectFrom('cell_services').selectAll().where('id', '=', id).executeTakeFirstOrThrow(),
    )
  }

  async removeService(id: string): Promise<boolean> {
    parseInput(serviceId, id, 'service id')
    const result = await this.#db.deleteFrom('cell_services').where('id', '=', id).executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }

  // ---- links ----

  /** Links two cells (`from → to`); linking twice is harmless. */
  async link(input: NewCellLink): Promise<CellLink> {
    const l = parseInput(newCellLinkSchema, input, 'cell link')
    await this.#mustExist(l.fromCellId)
    await this.#mustExist(l.toCellId)
    const now = this.#now()
    await this.#db
      .insertInto('cell_links')
      .values({ from_cell_id: l.fromCellId, to_cell_id: l.toCellId, type: l.type, created_at: now })
      .onConflict((oc) => oc.doNothing())
      .execute()
    const row = await this.#db
      .selectFrom('cell_links')
      .selectAll()
      .where('from_cell_id', '=', l.fromCellId)
      .where('to_cell_id', '=', l.toCellId)
      .where('type', '=', l.type)
      .executeTakeFirstOrThrow()
    return {
      fromCellId: row.from_cell_id,
      toCellId: row.to_cell_id,
      type: row.type,
      createdAt: row.created_at,
    }
  }

  async unlink(input: NewCellLink): Promise<boolean> {
    const l = parseInput(newCellLinkSchema, input, 'cell link')
    const result = await this.#db
      .deleteFrom('cell_links')
      .where('from_cell_id', '=', l.fromCellId)
      .where('to_cell_id', '=', l.toCellId)
      .where('type', '=', l.type)
      .executeTakeFirst()
    return Number(result.numDeletedRows) > 0
  }

  /** A cell's links: outgoing (`from` it), incoming (`to` it) or both, optionally of one type. */
  async links(
    id: string,
    options: { direction?: 'out' | 'in' | 'both'; type?: CellLinkType } = {},
  ): Promise<CellLink[]> {
    parseInput(cellId, id, 'cell id')
    const { direction, type } = parseInput(linkQuerySchema, options, 'link query')
    let select = this.#db.selectFrom('cell_links').selectAll()
    if (direction === 'out') select = select.where('from_cell_id', '=', id)
    else if (direction === 'in') select = select.where('to_cell_id', '=', id)
    else select = select.where((eb) => eb.or([eb('from_cell_id', '=', id), eb('to_cell_id', '=', id)]))
    if (type) select = select.where('type', '=', type)
    const rows = await select.orderBy('created_at').execute()
    return rows.map((row) => ({
      fromCellId: row.from_cell_id,
      toCellId: row.to_cell_id,
      type: row.type,
      createdAt: row.created_at,
    }))
  }

  async #mustExist(id: string): Promise<void> {
    const row = await this.#db.selectFrom('cells').select('id').where('id', '=', id).executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no cell ${id}`, { value: id })
  }
}

function toProcess(row: Database['cell_services']): CellProcess {
  return {
    id: row.id,
    cellId: row.cell_id,
    name: row.name,
    type: row.type,
    command: row.command,
    cwd: row.cwd,
    env: fromJson<Record<string, string>>(row.env) ?? {},
    port: row.port,
    pid: row.pid,
    status: row.status,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}
