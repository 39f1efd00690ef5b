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
    expect((await metrics.aggregate({ name: 'lifecycle.provision_ms', from: 1001 }))?.count).toBe(20)
    // One metric at a time: aggregates across names would mix units.
    await expect(metrics.aggregate({} as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    // Nearest rank at the edges: one sample is its own p50 and p95; two give the lower and the upper.
    await metrics.record({ name: 'one.sample', value: 7 })
    expect(await metrics.aggregate({ name: 'one.sample' })).toMatchObject({ count: 1, p50: 7, p95: 7 })
    await metrics.record({ name: 'one.sample', value: 9 })
    expect(await metrics.aggregate({ name: 'one.sample' })).toMatchObject({
      count: 2,
      p50: 7,
      p95: 9,
      mean: 8,
    })
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
    await expect(metrics.aggregate({ name: 'x', cellId: 'bad' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    const drain = async () => {
      for await (const _ of metrics.export({ format: 'xml' as 'csv' })) {
        // never reached
      }
    }
    await expect(drain()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(w.sqlite.prepare('SELECT count(*) FROM metrics').pluck().get()).toBe(0)
  })

  it('exports in chunks that hold no connection: a writer goes on while a reader waits', async () => {
    const w = await world()
    const metrics = new MetricService({ db: w.db })
    w.database.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        w.sqlite
          .prepare(
            "INSERT INTO metrics (id, name, value, unit, created_at) VALUES (?, 'agent.retries', ?, ?, ?)",
          )
          .run(`met_${String(i).padStart(26, '0')}`, i, i === 0 ? '=HYPERLINK("x")' : 'count', 3000 - i)
      }
    })
    const chunks = metrics.export({ format: 'csv' })
    const first = await chunks.next()
    expect(first.done).toBe(false)
    // The consumer has a chunk and has not asked for more: writes (both paths) and reads go on.
    await w.database.writeTransaction((execute) =>
      execute(
        w.db
          .insertInto('metrics')
          .values({
            id: 'met_zzzzzzzzzzzzzzzzzzzzzzzzzz',
            name: 'late.one',
            value: 1,
            tags: '{}',
            created_at: 1,
          })
          .compile(),
      ),
    )
    await metrics.record({ name: 'late.two', value: 2 })
    let csv = String(first.value)
    for await (const chunk of chunks) csv += chunk
    const lines = csv.trimEnd().split('\n').slice(1)
    // Every sample once, in id order, including those recorded after the export began.
    expect(lines).toHaveLength(3002)
    const idsOut = lines.map((line) => line.split(',')[0] as string)
    expect(idsOut).toEqual([...idsOut].sort())
    expect(new Set(idsOut).size).toBe(3002)
    // A text that a spreadsheet would run as a formula is defused.
    expect(lines[0]).toContain(`"'=HYPERLINK(""x"")"`)
    let json = ''
    for await (const chunk of metrics.export({ format: 'json', name: 'agent.retries' })) json += chunk
    const parsed = JSON.parse(json) as Array<{ unit: string }>
    expect(parsed).toHaveLength(3000)
    expect(parsed[0]?.unit).toBe('=HYPERLINK("x")')
  })
})
