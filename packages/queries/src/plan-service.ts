import { HiveStorageError, parseInput } from '@hive/errors'
import {
  type Database,
  type EventSource,
  eventSourceSchema,
  idSchema,
  ids,
  type NewPlan,
  type NewPlanFeedback,
  newPlanFeedbackSchema,
  newPlanSchema,
  type PlanFeedbackRow,
  type PlanRow,
  type PlanStatus,
  planStatusSchema,
} from '@hive/schema'
import type { Kysely } from 'kysely'
import { insertEvent } from './timeline.js'

export interface Plan {
  readonly id: string
  readonly cellId: string
  readonly version: number
  readonly content: string
  readonly status: PlanStatus
  readonly createdAt: number
  readonly updatedAt: number
}

export interface PlanFeedback {
  readonly id: string
  readonly planId: string
  readonly source: EventSource
  readonly content: string
  readonly createdAt: number
}

const toPlan = (row: Omit<PlanRow, 'rid'>): Plan => ({
  id: row.id,
  cellId: row.cell_id,
  version: row.version,
  content: row.content,
  status: row.status,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
})

const toFeedback = (row: PlanFeedbackRow): PlanFeedback => ({
  id: row.id,
  planId: row.plan_id,
  source: row.source,
  content: row.content,
  createdAt: row.created_at,
})

const planId = idSchema('plan')
const cellId = idSchema('cell')

/**
 * Plans of cells, versioned: each `add` is the next version; earlier versions still open are
 * marked `superseded`. Status changes and feedback are recorded on the timeline.
 */
export class PlanService {
  readonly #db: Kysely<Database>
  readonly #now: () => number

  constructor(config: { db: Kysely<Database>; now?: () => number }) {
    this.#db = config.db
    this.#now = config.now ?? Date.now
  }

  async add(input: NewPlan, options: { source?: EventSource } = {}): Promise<Plan> {
    const plan = parseInput(newPlanSchema, input, 'plan')
    const source = parseInput(eventSourceSchema, options.source ?? 'agent', 'event source')
    const now = this.#now()
    return this.#db.transaction().execute(async (trx) => {
      const cell = await trx.selectFrom('cells').select('id').where('id', '=', plan.cellId).executeTakeFirst()
      if (!cell)
        throw new HiveStorageError('NOT_FOUND', `there is no cell ${plan.cellId}`, { value: plan.cellId })
      const last = await trx
        .selectFrom('plans')
        .select((eb) => eb.fn.max('version').as('version'))
        .where('cell_id', '=', plan.cellId)
        .executeTakeFirst()
      const row = {
        id: plan.id ?? ids.plan(),
        cell_id: plan.cellId,
        version: Number(last?.version ?? 0) + 1,
        content: plan.content,
        status: plan.status ?? ('draft' as const),
        created_at: now,
        updated_at: now,
      }
      await trx
        .updateTable('plans')
        .set({ status: 'superseded', updated_at: now })
        .where('cell_id', '=', plan.cellId)
        .where('status', 'in', ['draft', 'submitted', 'awaiting_approval'])
        .execute()
      await trx.insertInto('plans').values(row).execute()
      await insertEvent(
        trx,
        {
          cellId: plan.cellId,
          type: 'plan.added',
          source,
          payload: { planId: row.id, version: row.version },
        },
        now,
      )
      return toPlan(row)
    })
  }

  async get(id: string): Promise<Plan> {
    parseInput(planId, id, 'plan id')
    const row = await this.#db.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw new HiveStorageError('NOT_FOUND', `there is no plan ${id}`, { value: id })
    return toPlan(row)
  }

  /** Every version of a cell's plan, newest first. */
  async list(cell: string): Promise<Plan[]> {
    parseInput(cellId, cell, 'cell id')
    return (
      await this.#db
        .selectFrom('plans')
        .selectAll()
        .where('cell_id', '=', cell)
        .orderBy('version', 'desc')
        .execute()
    ).map(toPlan)
  }

  async latest(cell: string): Promise<Plan | undefined> {
    return (await this.list(cell))[0]
  }

  async setStatus(id: string, status: PlanStatus, options: { source?: EventSource } = {}): Promise<Plan> {
    parseInput(planId, id, 'plan id')
    parseInput(planStatusSchema, status, 'plan status')
    const source = parseInput(eventSourceSchema, options.source ?? 'human', 'event source')
    const now = this.#now()
    return this.#db.transaction().execute(async (trx) => {
      const plan = await trx.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst()
      if (!plan) throw new HiveStorageError('NOT_FOUND', `there is no plan ${id}`, { value: id })
      if (plan.status === 'superseded' && status !== 'superseded') {
        throw new HiveStorageError(
          'CONFLICT',
          `plan ${id} (version ${plan.version}) was superseded by a later version`,
          { value: id },
        )
      }
      await trx.updateTable('plans').set({ status, updated_at: now }).where('id', '=', id).execute()
      await insertEvent(
        trx,
        {
          cellId: plan.cell_id,
          type: 'plan.status_changed',
          source,
          payload: { planId: id, from: plan.status, to: status },
        },
        now,
      )
      return toPlan({ ...plan, status, updated_at: now })
    })
  }

  async addFeedback(input: NewPlanFeedback): Promise<PlanFeedback> {
    const feedback = parseInput(newPlanFeedbackSchema, input, 'plan feedback')
    const now = this.#now()
    return this.#db.transaction().execute(async (trx) => {
      const plan = await trx
        .selectFrom('plans')
        .select(['cell_id'])
        .where('id', '=', feedback.planId)
        .executeTakeFirst()
      if (!plan)
        throw new HiveStorageError('NOT_FOUND', `there is no plan ${feedback.planId}`, {
          value: feedback.planId,
        })
      const row = {
        id: feedback.id ?? ids.planFeedback(),
        plan_id: feedback.planId,
        source: feedback.source,
        content: feedback.content,
        created_at: now,
      }
      await trx.insertInto('plan_feedback').values(row).execute()
      await insertEvent(
        trx,
        {
          cellId: plan.cell_id,
          type: 'plan.feedback',
          source: feedback.source,
          payload: { planId: feedback.planId, feedbackId: row.id },
        },
        now,
      )
      return toFeedback(row)
    })
  }

  async feedback(id: string): Promise<PlanFeedback[]> {
    parseInput(planId, id, 'plan id')
    return (
      await this.#db
        .selectFrom('plan_feedback')
        .selectAll()
        .where('plan_id', '=', id)
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    ).map(toFeedback)
  }
}
