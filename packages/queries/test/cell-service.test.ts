import { ids } from '@hive/schema'
import { describe, expect, it } from 'vitest'
import { CellService, PlanService, TimelineService, WorkspaceService } from '../src/index.js'
import { world } from './helpers.js'

async function setup() {
  const w = await world()
  let clock = 1_700_000_000_000
  const now = () => (clock += 1000)
  return {
    w,
    now,
    cells: new CellService({ db: w.db, now }),
    timeline: new TimelineService({ db: w.db, now }),
    plans: new PlanService({ db: w.db, now }),
  }
}

describe('CellService', () => {
  it('creates, reads, updates and deletes cells, recording each on the timeline', async () => {
    const { w, cells, timeline } = await setup()
    const cell = await cells.create({
      workspaceId: w.workspace,
      name: 'Add caching',
      type: 'planning',
      metadata: { owner: 'sam' },
    })
    expect(cell).toMatchObject({
      name: 'Add caching',
      status: 'draft',
      type: 'planning',
      metadata: { owner: 'sam' },
    })
    expect(await cells.get(cell.id)).toEqual(cell)
    const updated = await cells.update(cell.id, {
      description: 'LRU in front of the queries',
      branchName: 'cache',
    })
    expect(updated).toMatchObject({ description: 'LRU in front of the queries', branchName: 'cache' })
    expect(updated.updatedAt).toBeGreaterThan(cell.updatedAt)
    const events = await timeline.list({ cellId: cell.id, order: 'asc' })
    expect(events.items.map((e) => e.type)).toEqual(['cell.created', 'cell.updated'])
    expect(await cells.delete(cell.id)).toBe(true)
    expect(await cells.delete(cell.id)).toBe(false)
    await expect(cells.get(cell.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('moves status along the lifecycle only, recording each change in the same transaction', async () => {
    const { w, cells, timeline } = await setup()
    const cell = await cells.create({ workspaceId: w.workspace, name: 'Lifecycle', type: 'implementation' })
    for (const status of [
      'provisioning',
      'active',
      'awaiting_input',
      'active',
      'reviewing',
      'completed',
    ] as const) {
      await cells.setStatus(cell.id, status, { source: 'agent', reason: `to ${status}` })
    }
    const done = await cells.get(cell.id)
    expect(done.status).toBe('completed')
    expect(done.completedAt).not.toBeNull()
    await expect(cells.setStatus(cell.id, 'active')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('completed to active'),
    })
    expect((await cells.get(cell.id)).status).toBe('completed')
    const changes = (await timeline.list({ cellId: cell.id, types: ['cell.status_changed'], order: 'asc' }))
      .items
    expect(changes.map((e) => [e.payload.from, e.payload.to, e.source])).toEqual([
      ['draft', 'provisioning', 'agent'],
      ['provisioning', 'active', 'agent'],
      ['active', 'awaiting_input', 'agent'],
      ['awaiting_input', 'active', 'agent'],
      ['active', 'reviewing', 'agent'],
      ['reviewing', 'completed', 'agent'],
    ])
    // A refused change records nothing.
    expect(changes).toHaveLength(6)
  })

  it('lists with filters, counts per status, and pages stably while cells are added', async () => {
    const { w, cells } = await setup()
    const made: string[] = []
    for (let i = 0; i < 30; i++) {
      const cell = await cells.create({
        workspaceId: w.workspace,
        name: i % 3 === 0 ? `Fix login bug ${i}` : `Refactor module ${i}`,
        description: i % 5 === 0 ? 'touches the authentication flow' : null,
        type: i % 2 === 0 ? 'implementation' : 'planning',
        metadata: { team: i % 2 === 0 ? 'core' : 'web', priority: i % 4 },
      })
      if (i % 3 === 0) await cells.setStatus(cell.id, 'provisioning')
      made.push(cell.id)
    }
    const seen: string[] = []
    let cursor: string | null = null
    let page = 0
    do {
      const result: { items: { id: string }[]; nextCursor: string | null } = await cells.list({
        workspaceId: w.workspace,
        limit: 7,
        ...(cursor ? { cursor } : {}),
      })
      seen.push(...result.items.map((c) => c.id))
      cursor = result.nextCursor
      if (page++ === 0)
        await cells.create({ workspaceId: w.workspace, name: 'Arrived while paging', type: 'manual' })
    } while (cursor)
    // The world's two cells, then the 30: every one exactly once, most recently updated first.
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen.filter((id) => made.includes(id))).toHaveLength(30)
    expect(seen).toHaveLength(32)

    const provisioning = await cells.list({
      workspaceId: w.workspace,
      statuses: ['provisioning'],
      limit: 100,
    })
    expect(provisioning.items).toHaveLength(10)
    expect(
      (await cells.list({ types: ['planning'], statuses: ['draft', 'provisioning'], limit: 100 })).items,
    ).toHaveLength(15)
    expect((await cells.list({ text: 'login', limit: 100 })).items.map((c) => c.name).sort()).toEqual(
      ['Fix login', ...[0, 3, 6, 9, 12, 15, 18, 21, 24, 27].map((i) => `Fix login bug ${i}`)].sort(),
    )
    expect((await cells.list({ text: 'authent', limit: 100 })).items).toHaveLength(6) // prefix of the last word
    expect((await cells.list({ metadata: { team: 'web', priority: 1 }, limit: 100 })).items).toHaveLength(8)
    expect((await cells.list({ text: '"" ( OR *', limit: 100 })).items).toEqual([])
    const counts = await cells.countByStatus({ workspaceId: w.workspace })
    expect(counts).toMatchObject({ draft: 21, provisioning: 10, active: 2, archived: 0 }) // the world's two cells are active
    const oldest = await cells.list({ sort: 'created', order: 'asc', limit: 1 })
    expect(oldest.items[0]?.id).toBe(made[0]) // this test's clock runs in 2023, before the world's cells
  })

  it('keeps provisioning state, services and links', async () => {
    const { w, cells } = await setup()
    await cells.setProvisioning({ cellId: w.cell, attemptCount: 1, startMode: 'plan', startedAt: 5 })
    const p = await cells.setProvisioning({ cellId: w.cell, finishedAt: 9 })
    expect(p).toMatchObject({ attemptCount: 1, startMode: 'plan', startedAt: 5, finishedAt: 9 })
    const web = await cells.upsertService({
      cellId: w.cell,
      name: 'web',
      type: 'process',
      command: 'pnpm dev',
      port: 3000,
      env: { NODE_ENV: 'development' },
    })
    await cells.upsertService({ cellId: w.cell, name: 'db', type: 'docker' })
    const running = await cells.setServiceStatus(web.id, 'running', { pid: 4242 })
    expect(running).toMatchObject({
      status: 'running',
      pid: 4242,
      port: 3000,
      env: { NODE_ENV: 'development' },
    })
    const redefined = await cells.upsertService({
      cellId: w.cell,
      name: 'web',
      type: 'process',
      command: 'pnpm start',
    })
    expect(redefined.id).toBe(web.id)
    expect((await cells.listServices(w.cell)).map((s) => s.name)).toEqual(['db', 'web'])

    await cells.link({ fromCellId: w.cell, toCellId: w.otherCell, type: 'plans' })
    await cells.link({ fromCellId: w.cell, toCellId: w.otherCell, type: 'plans' }) // twice is once
    expect(await cells.links(w.otherCell, { direction: 'in' })).toMatchObject([
      { fromCellId: w.cell, toCellId: w.otherCell, type: 'plans' },
    ])
    expect(await cells.links(w.cell, { direction: 'in' })).toEqual([])
    expect(await cells.links(w.cell)).toHaveLength(1)
    expect(await cells.unlink({ fromCellId: w.cell, toCellId: w.otherCell, type: 'plans' })).toBe(true)
  })

  it('refuses bad input with typed errors and writes nothing', async () => {
    const { w, cells } = await setup()
    const count = () =>
      w.sqlite.prepare('SELECT (SELECT count(*) FROM cells) + (SELECT count(*) FROM events)').pluck().get()
    const before = count()
    await expect(
      cells.create({ workspaceId: ids.workspace(), name: 'x', type: 'manual' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(cells.create({ workspaceId: w.workspace, name: '', type: 'manual' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(
      cells.create({
        workspaceId: w.workspace,
        name: 'x',
        type: 'manual',
        metadata: { big: 'x'.repeat(2 << 20) },
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(cells.update(ids.cell(), { name: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(cells.update(w.cell, {})).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(cells.setStatus(ids.cell(), 'active')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(cells.setStatus(w.cell, 'flying' as 'active')).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(cells.setStatus(w.cell, 'archived', { source: 'aliens' as 'agent' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    for (const query of [
      { limit: 0 },
      { limit: 501 },
      { cursor: 'nope' },
      { statuses: [] },
      { metadata: { 'a b': 1 } },
      { text: 'x'.repeat(1001) },
      { color: 'red' },
    ]) {
      await expect(cells.list(query as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    }
    await expect(cells.link({ fromCellId: w.cell, toCellId: w.cell, type: 'plans' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(
      cells.link({ fromCellId: w.cell, toCellId: ids.cell(), type: 'plans' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(count()).toBe(before)
    await expect(
      new WorkspaceService({ db: w.db }).create({ name: 'again', rootPath: '/src/hive' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
  })
})

describe('PlanService', () => {
  it('versions plans, supersedes open ones, and keeps feedback', async () => {
    const { w, plans, timeline } = await setup()
    const v1 = await plans.add({ cellId: w.cell, content: '1. write tests' })
    await plans.setStatus(v1.id, 'awaiting_approval')
    await plans.addFeedback({ planId: v1.id, source: 'human', content: 'also benchmark it' })
    const v2 = await plans.add({ cellId: w.cell, content: '1. write tests\n2. benchmark' })
    expect(v2.version).toBe(2)
    expect((await plans.get(v1.id)).status).toBe('superseded')
    await expect(plans.setStatus(v1.id, 'approved')).rejects.toMatchObject({ code: 'CONFLICT' })
    expect((await plans.setStatus(v2.id, 'approved')).status).toBe('approved')
    expect((await plans.list(w.cell)).map((p) => p.version)).toEqual([2, 1])
    expect((await plans.latest(w.cell))?.id).toBe(v2.id)
    expect((await plans.feedback(v1.id)).map((f) => f.content)).toEqual(['also benchmark it'])
    const types = (await timeline.list({ cellId: w.cell, order: 'asc' })).items.map((e) => e.type)
    expect(types).toEqual([
      'plan.added',
      'plan.status_changed',
      'plan.feedback',
      'plan.added',
      'plan.status_changed',
    ])
    await expect(plans.add({ cellId: ids.cell(), content: 'x' })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(
      plans.addFeedback({ planId: ids.plan(), source: 'human', content: 'x' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('TimelineService', () => {
  it('pages events by time with filters, and counts them per bucket', async () => {
    const { w, timeline } = await setup()
    const base = Date.UTC(2026, 0, 1)
    for (let i = 0; i < 50; i++) {
      await timeline.record({
        cellId: i % 2 === 0 ? w.cell : w.otherCell,
        type: i % 5 === 0 ? 'service.crashed' : 'agent.step',
        source: i % 5 === 0 ? 'service' : 'agent',
        createdAt: base + i * 20 * 60_000, // every 20 minutes
        payload: { i },
      })
    }
    const all: number[] = []
    let cursor: string | null = null
    do {
      const page: { items: { payload: { i?: unknown } }[]; nextCursor: string | null } = await timeline.list({
        cellId: w.cell,
        limit: 7,
        ...(cursor ? { cursor } : {}),
      })
      all.push(...page.items.map((e) => e.payload.i as number))
      cursor = page.nextCursor
    } while (cursor)
    expect(all).toEqual(Array.from({ length: 25 }, (_, k) => 48 - 2 * k))
    const crashes = await timeline.list({
      types: ['service.crashed'],
      sources: ['service'],
      from: base,
      to: base + 5 * 3_600_000,
    })
    expect(crashes.items.map((e) => e.payload.i)).toEqual([10, 5, 0])
    const hours = await timeline.buckets({ from: base, to: base + 4 * 3_600_000, bucket: 'hour' })
    expect(hours).toEqual([0, 1, 2, 3].map((h) => ({ start: base + h * 3_600_000, count: 3 })))
    const days = await timeline.buckets({
      cellId: w.otherCell,
      from: base,
      to: base + 86_400_000,
      bucket: 'day',
    })
    expect(days).toEqual([{ start: base, count: 25 }])
    await expect(timeline.buckets({ from: 0, to: 86_400_000 * 30, bucket: 'minute' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await expect(timeline.list({ types: ['Not A Type'] })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(
      timeline.record({ type: 'x', source: 'agent', payload: { big: 'y'.repeat(2 << 20) } }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })
})
