import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { exportBundle, importBundle, openHiveStore } from '../src/index.js'
import { addSession, counts, logText } from './maintenance-fixture.js'

describe('a full disk', () => {
  it('stops an import with DISK_FULL and leaves the store as it was', async () => {
    const source = await openHiveStore({ dataDir: tempDir(), create: true, migrate: 'auto' })
    const ws = await source.services.workspaces.create({ name: 'w', rootPath: '/w' })
    const cell = await source.services.cells.create({ workspaceId: ws.id, name: 'big', type: 'manual' })
    for (let i = 0; i < 4; i++) await addSession(source, cell.id, { messages: 40, words: 'y'.repeat(3000) })
    await source.services.artifacts.put({ cellId: cell.id, type: 'log', name: 'a.log' }, logText(500, 1))
    const bundle = join(tempDir(), 'cell.tar')
    await exportBundle(source, { cellIds: [cell.id], output: bundle })
    await source.close()

    const target = await openHiveStore({ dataDir: tempDir(), create: true, migrate: 'auto' })
    const before = counts(target)
    // The database may not grow by more than a few pages: as good as a full disk, without one.
    const pages = Number(target.database.sqlite.pragma('page_count', { simple: true }))
    target.database.sqlite.pragma(`max_page_count = ${pages + 4}`)
    await expect(importBundle(target, { input: bundle })).rejects.toMatchObject({ code: 'DISK_FULL' })
    expect(counts(target)).toEqual(before)
    expect(target.database.sqlite.prepare('PRAGMA foreign_key_check').all()).toEqual([])
    const tmp = join(target.layout.root, 'tmp')
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([])
    // With room again, the same bundle imports whole.
    target.database.sqlite.pragma('max_page_count = 1073741823')
    await importBundle(target, { input: bundle })
    expect(counts(target).messages).toBe(160)
    await target.close()
  })
})
