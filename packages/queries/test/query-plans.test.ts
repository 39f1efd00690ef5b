import { type Database, ids } from '@hive/schema'
import { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import {
  ArtifactService,
  CellService,
  SearchService,
  TimelineService,
  TranscriptService,
} from '../src/index.js'
import { world } from './helpers.js'

/** A plan line that reads a whole table: `SCAN t` without an index (FTS5's own index is fine). */
const FULL_SCAN = /^SCAN (?!.*USING (COVERING )?INDEX)(?!.*VIRTUAL TABLE)/

describe('the main list, page and search queries', () => {
  it('use indexes: EXPLAIN QUERY PLAN shows no full table scan', async () => {
    const w = await world()
    // A second Kysely on the same connection that records every query it runs.
    const seen: Array<{ sql: string; parameters: readonly unknown[] }> = []
    const db = new Kysely<Database>({
      dialect: w.database.dialect,
      log: (event) => {
        if (event.level === 'query') seen.push({ sql: event.query.sql, parameters: event.query.parameters })
      },
    })
    const cells = new CellService({ db })
    const transcripts = new TranscriptService({ db })
    const timeline = new TimelineService({ db })
    const search = new SearchService({ db })
    const artifacts = new ArtifactService({ db, content: w.blobs })
    // Enough rows that a scan would be a real choice.
    for (let i = 0; i < 200; i++) {
      const message = ids.message()
      await transcripts.append(
        { cellId: w.cell, sessionId: w.session },
        {
          info: { id: message, role: 'user', time: { created: i } },
          parts: [{ id: ids.part(), messageID: message, type: 'text', text: `note ${i}` }],
        },
      )
      if (i % 10 === 0) await cells.create({ workspaceId: w.workspace, name: `cell ${i}`, type: 'manual' })
    }
    w.sqlite.exec('ANALYZE')
    seen.length = 0

    const page = await transcripts.page(w.session, { limit: 20 })
    await transcripts.page(w.session, { after: page.next!, limit: 20 })
    await transcripts.page(w.session, { before: page.next!, limit: 20 })
    await transcripts.tail(w.session, 20)
    await transcripts.around(page.messages[5]!.id, 5)
    await cells.list({})
    await cells.list({ workspaceId: w.workspace, statuses: ['draft', 'active'] })
    await cells.list({ workspaceId: w.workspace, types: ['manual'], sort: 'created' })
    await cells.list({ text: 'cell' })
    await cells.countByStatus({ workspaceId: w.workspace })
    await timeline.list({ cellId: w.cell })
    await timeline.list({ types: ['cell.created'] })
    await artifacts.list(w.cell, { type: 'log' })
    await search.search({ text: 'note', cellIds: [w.cell], kinds: ['text'], from: 10 })

    expect(seen.length).toBeGreaterThan(15)
    for (const query of seen) {
      const plan = (
        w.sqlite.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as Array<{
          detail: string
        }>
      ).map((row) => row.detail)
      expect(
        plan.filter((line) => FULL_SCAN.test(line)),
        `${query.sql}\n${plan.join('\n')}`,
      ).toEqual([])
    }
  })
})
