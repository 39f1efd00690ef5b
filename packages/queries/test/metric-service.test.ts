import { describe, expect, it } from 'vitest'
import { MetricService } from '../src/index.js'
import { world } from './helpers.js'

describe('MetricService', () => {
  it('aggregates samples overall and per cell with nearest-rank percentiles', async () => {
    const w = await world()
    const metrics = new MetricService({ db: w.db })
    for (let i = 1; i <= 100; i++)
      await metrics.record({
        cellId: w.cell,
        name: 'lifecycle.provision_ms',
        value: i * 10,
        unit: 'ms',
        createdAt: i,
      })
    for (let i = 1; i <= 20; i++)
      await metrics.record({
        cellId: w.otherCell,
        name: 'lifecycle.provision_ms',
        value: i,
        unit: 'ms',
        createdAt: 1000 + i,
      })
    await metrics.record({ name: 'agent.retries', value: 3, tags: { model: 'gpt' } })
    expect(await metrics.aggregate({ name: 'lifecycle.provision_ms', cellId: w.cell })).toEqual({
      count: 100,
      sum: 50_500,
      min: 10,
      max: 1000,
      mean: 505,
      p50: 500,
      p95: 950,
    })
    const byCell = await metrics.aggregateByCell({ name: 'lifecycle.provision_ms' })
    expect([...byCell.keys()].sort()).toEqual([w.cell, w.otherCell].sort())
    expect(byCell.get(w.otherCell)).toMatchObject({ count: 20, p50: 10, p95: 19 })
    expect((await metrics.aggregate({ name: 'lifecycle.provision_ms' }))?.count).toBe(120)
    expect(await metrics.aggregate({ name: 'nothing.here' })).toBeNull()
    expect((await metrics.aggregate({ from: 1001 }))?.count).toBe(21)
  })

  it('exports samples as CSV and JSON lines', async () => {
    const w = await world()
    const metrics = new MetricService({ db: w.db })
    await metrics.record({
      name: 'human.intervention',
      value: 1,
      unit: 'count',
      tags: { reason: 'said "stop", then left' },
      createdAt: 5,
    })
    await metrics.record({ cellId: w.cell, name: 'agent.retries', value: 2.5, createdAt: 6 })
    let csv = ''
    for await (const chunk of metrics.export({ format: 'csv' })) csv += chunk
    const lines = csv.trimEnd().split('\n')
    expect(lines[0]).toBe('id,created_at,name,value,unit,cell_id,session_id,tags')
    expect(lines).toHaveLength(3)
    expect(lines[1]).toContain('"{""reason"":""said \\""stop\\"", then left""}"')
    let jsonl = ''
    for await (const chunk of metrics.export({ format: 'jsonl', cellId: w.cell })) jsonl += chunk
    expect(
      jsonl
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toMatchObject([{ name: 'agent.retries', value: 2.5, cellId: w.cell, tags: {} }])
  })

  it('rejects bad samples and filters', async () => {
    const w = await world()
    const metrics = new MetricService({ db: w.db })
    for (const bad of [
      { name: 'x', value: Number.NaN },
      { name: 'Bad Name', value: 1 },
      { name: 'x', value: 1, cellId: 'nope' },
      { name: 'x', value: 1, tags: { t: { deep: 1 } } },
    ]) {
      await expect(metrics.record(bad as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    }
    await expect(metrics.aggregate({ cellId: 'bad' })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    const drain = async () => {
      for await (const _ of metrics.export({ format: 'xml' as 'csv' })) {
        // never reached
      }
    }
    await expect(drain()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(w.sqlite.prepare('SELECT count(*) FROM metrics').pluck().get()).toBe(0)
  })
})
