import { randomBytes } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ids } from '@hive/schema'
import { tempDir } from '@hive/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  applyRetention,
  collectGarbage,
  deleteSessionsGently,
  exportBundle,
  type HiveStore,
  importBundle,
  planRetention,
  readRetentionPolicy,
  storeUsage,
  vacuumStore,
  writeRetentionPolicy,
} from '../src/index.js'
import { DELETE_BATCH } from '../src/maintenance/delete-gently.js'
import { hiveInProcess } from './helpers.js'
import {
  addSession,
  ageBlobFile,
  clockedStore,
  complete,
  counts,
  DAY,
  logText,
  T0,
} from './maintenance-fixture.js'

const open: HiveStore[] = []
afterEach(async () => {
  for (const store of open.splice(0)) await store.close()
})

/**
 * A store with history: an old finished cell with three sessions (the oldest with a sub-agent
 * session and a spilled tool output), old and new logs (two sharing content), a cell archived
 * long ago, and a fresh cell. The clock ends 45 days after the start.
 */
async function scenario() {
  const { dataDir, store, clock } = await clockedStore()
  open.push(store)
  const s = store.services
  const ws = await s.workspaces.create({ name: 'hive', rootPath: '/src/hive' })
  const old = await s.cells.create({ workspaceId: ws.id, name: 'Old finished work', type: 'implementation' })
  await complete(store, old.id)
  const first = await addSession(store, old.id, { bigOutput: true, words: 'ancient' })
  const sub = await addSession(store, old.id, { parentSessionId: first.id })
  clock.now = T0 + DAY
  const second = await addSession(store, old.id)
  clock.now = T0 + 2 * DAY
  const third = await addSession(store, old.id, { words: 'latest' })
  const oldLog = await s.artifacts.put({ cellId: old.id, type: 'log', name: 'build-1.log' }, logText(2000, 1))
  const sharedLog = await s.artifacts.put(
    { cellId: old.id, type: 'log', name: 'shared.log' },
    logText(2000, 2),
  )
  const diff = await s.artifacts.put({ cellId: old.id, type: 'diff', name: 'change.patch' }, logText(500, 3))
  const gone = await s.cells.create({ workspaceId: ws.id, name: 'Archived long ago', type: 'manual' })
  await complete(store, gone.id)
  await addSession(store, gone.id)
  const goneLog = await s.artifacts.put({ cellId: gone.id, type: 'log', name: 'gone.log' }, logText(1500, 4))
  await s.cells.setStatus(gone.id, 'archived')
  clock.now = T0 + 40 * DAY
  const fresh = await s.cells.create({ workspaceId: ws.id, name: 'Fresh work', type: 'implementation' })
  await addSession(store, fresh.id)
  // The same content as the old shared log: one blob, two artifacts.
  const sameContent = await s.artifacts.put(
    { cellId: fresh.id, type: 'file', name: 'copy.log' },
    logText(2000, 2),
  )
  clock.now = T0 + 45 * DAY
  // Blob files are as old as their artifacts say (gc's grace period reads file times).
  for await (const blob of store.blobs.list()) ageBlobFile(blob.path, 2 * 60 * 60 * 1000)
  return {
    dataDir,
    store,
    clock,
    ws,
    cells: { old, gone, fresh },
    sessions: { first, sub, second, third },
    artifacts: { oldLog, sharedLog, diff, goneLog, sameContent },
  }
}

const POLICY = {
  artifactMaxAgeDays: { log: 30 },
  keepSessionsPerCell: 1,
  archiveInactiveAfterDays: 30,
  deleteArchivedAfterDays: 30,
}

describe('storeUsage', () => {
  it('counts each kind for the whole store and for a cell, with what compression and deduplication save', async () => {
    const { store, cells, artifacts } = await scenario()
    const all = await storeUsage(store)
    expect(all.cellId).toBeNull()
    expect(all.artifacts.log.items).toBe(4) // three logs and the spilled tool output
    expect(all.artifacts.diff).toMatchObject({ items: 1, logicalBytes: artifacts.diff.size })
    expect(all.artifacts.file.items).toBe(1)
    expect(all.artifactsTotal.items).toBe(6)
    // Two artifacts share one blob: that content is stored once.
    expect(all.savings.deduplicationBytes).toBe(artifacts.sameContent.size)
    expect(all.savings.compressionBytes).toBeGreaterThan(0)
    expect(all.artifactsTotal.storedBytes).toBeLessThan(all.artifactsTotal.logicalBytes / 3)
    expect(all.transcripts.messages).toBe(6 * 3)
    expect(all.disk?.databaseBytes).toBeGreaterThan(0)
    expect(all.searchIndex.storedBytes).toBeGreaterThan(0)

    const fresh = await storeUsage(store, { cellId: cells.fresh.id })
    expect(fresh.cellId).toBe(cells.fresh.id)
    expect(fresh.transcripts.messages).toBe(3)
    expect(fresh.artifactsTotal.items).toBe(1)
    expect(fresh.disk).toBeNull()

    await expect(storeUsage(store, { cellId: 'nope' })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(storeUsage(store, { cellId: ids.cell() })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })

  it('is printed as a table by `hive usage`, and as JSON', async () => {
    const { dataDir, store, cells } = await scenario()
    await store.close()
    const text = await hiveInProcess(['--data-dir', dataDir, 'usage'])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/transcripts \(messages, parts\)\s+18, \d+\s/)
    expect(text.stdout).toMatch(/artifacts: log\s+4\s/)
    expect(text.stdout).toContain('by deduplication')
    const json = await hiveInProcess(['--data-dir', dataDir, 'usage', '--cell', cells.old.id, '--json'])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ cellId: cells.old.id, transcripts: { messages: 12 } })
    const wrong = await hiveInProcess(['--data-dir', dataDir, 'usage', '--cell', 'nope'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/^hive: invalid cell id: .*\[INVALID_INPUT\]\n$/)
  })
})

describe('retention policy', () => {
  it('is validated whole, merged, persisted, and removable limit by limit', async () => {
    const { store } = await scenario()
    expect(readRetentionPolicy(store)).toEqual({})
    writeRetentionPolicy(store, POLICY)
    expect(readRetentionPolicy(store)).toEqual(POLICY)
    writeRetentionPolicy(store, { artifactMaxAgeDays: { diff: 90 }, maxTotalBytes: 10 * 1024 ** 3 })
    expect(readRetentionPolicy(store)).toEqual({
      ...POLICY,
      artifactMaxAgeDays: { log: 30, diff: 90 },
      maxTotalBytes: 10 * 1024 ** 3,
    })
    writeRetentionPolicy(store, { artifactMaxAgeDays: { log: null }, keepSessionsPerCell: null })
    expect(readRetentionPolicy(store)).toMatchObject({ artifactMaxAgeDays: { diff: 90 } })
    expect(readRetentionPolicy(store).keepSessionsPerCell).toBeUndefined()

    const before = readRetentionPolicy(store)
    for (const bad of [
      { keepSessionsPerCell: 0 },
      { keepSessionsPerCell: 1.5 },
      { archiveInactiveAfterDays: -1 },
      { artifactMaxAgeDays: { videos: 3 } },
      { maxTotalBytes: 12 },
      { unknownLimit: 3 },
      // One bad value spoils the whole change: the good one is not written either.
      { deleteArchivedAfterDays: 7, archiveInactiveAfterDays: 'soon' },
    ]) {
      expect(() => writeRetentionPolicy(store, bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      )
    }
    expect(readRetentionPolicy(store)).toEqual(before)
  })

  it('refuses a stored policy that no longer validates, with a typed error', async () => {
    const { store } = await scenario()
    store.database.sqlite
      .prepare("INSERT INTO settings (key, value, updated_at) VALUES ('retention', ?, 0)")
      .run(JSON.stringify({ keepSessionsPerCell: -4 }))
    expect(() => readRetentionPolicy(store)).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        message: expect.stringContaining('keepSessionsPerCell'),
      }),
    )
  })
})

describe('retention plan and apply', () => {
  it('plans exactly what would go, with the bytes freed, and changes nothing', async () => {
    const { store, cells, sessions, artifacts } = await scenario()
    const before = counts(store)
    const plan = await planRetention(store, { policy: POLICY, now: T0 + 45 * DAY })
    expect(plan.archiveCells.map((c) => c.id)).toEqual([cells.old.id])
    expect(plan.deleteCells.map((c) => c.id)).toEqual([cells.gone.id])
    expect(plan.deleteSessions.map((s) => s.id)).toEqual([sessions.first.id, sessions.second.id])
    expect(plan.deleteSessions[0]).toMatchObject({ subSessions: 1, messages: 6 })
    const planned = plan.deleteArtifacts.map((a) => a.id)
    expect(planned).toContain(artifacts.oldLog.id)
    expect(planned).toContain(artifacts.sharedLog.id)
    expect(planned).not.toContain(artifacts.goneLog.id) // goes with its cell, not listed twice
    expect(planned).not.toContain(artifacts.diff.id)
    expect(planned).not.toContain(artifacts.sameContent.id)
    // Freed: the old log's blob, the archived cell's log, the spilled output; not the shared one.
    const stored = (hash: string) =>
      store.database.sqlite
        .prepare('SELECT stored_size FROM blobs WHERE hash = ?')
        .pluck()
        .get(hash) as number
    const spilled = store.database.sqlite
      .prepare(
        "SELECT blob_hash FROM artifacts WHERE name NOT IN ('build-1.log', 'shared.log', 'gone.log') AND type = 'log'",
      )
      .pluck()
      .get() as string
    expect(plan.freed.blobs).toBe(3)
    expect(plan.freed.blobBytes).toBe(
      stored(artifacts.oldLog.blobHash) + stored(artifacts.goneLog.blobHash) + stored(spilled),
    )
    expect(plan.freed.rowBytes).toBeGreaterThan(0)
    expect(counts(store)).toEqual(before)
  })

  it('applies the plan: rows, blob files and database pages go; what is kept reads back intact', async () => {
    const { store, cells, sessions, artifacts } = await scenario()
    writeRetentionPolicy(store, POLICY)
    const planned = await planRetention(store)
    const phases = new Set<string>()
    const result = await applyRetention(store, { onProgress: (e) => phases.add(e.phase) })
    expect(result).toMatchObject({ archivedCells: 1, deletedCells: 1, skipped: [] })
    expect(result.deletedSessions).toBe(4) // first, its sub-session, second; the archived cell's one
    expect(phases).toEqual(
      new Set([
        'archiving cells',
        'deleting cells',
        'deleting sessions',
        'deleting artifacts',
        'collecting blobs',
        'vacuum',
      ]),
    )
    expect(result.gc.removed).toBe(planned.freed.blobs)
    expect(result.gc.bytesFreed).toBe(planned.freed.blobBytes)
    expect((await store.services.cells.get(cells.old.id)).status).toBe('archived')
    await expect(store.services.cells.get(cells.gone.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect((await store.services.sessions.list(cells.old.id)).map((s) => s.id)).toEqual([sessions.third.id])
    await expect(store.services.artifacts.get(artifacts.oldLog.id)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    expect(await store.blobs.has(artifacts.oldLog.blobHash)).toBe(false)
    // Deduplicated content another artifact still uses stays, and reads back.
    expect(await store.blobs.has(artifacts.sharedLog.blobHash)).toBe(true)
    const copy = await store.services.artifacts.open(artifacts.sameContent.id)
    expect((await copy.buffer()).toString()).toBe(logText(2000, 2))
    // The database is consistent: no dangling references, the search index matches its rows.
    expect(store.database.sqlite.prepare('PRAGMA foreign_key_check').all()).toEqual([])
    store.database.sqlite.prepare("INSERT INTO search (search, rank) VALUES ('integrity-check', 1)").run()
    const search = await store.services.search.search({ text: 'ancient' })
    expect(search.hits).toEqual([])
    expect((await store.services.search.search({ text: 'latest' })).hits.length).toBeGreaterThan(0)
    expect(store.database.sqlite.prepare('SELECT count(*) FROM blobs').pluck().get()).toBe(
      (await store.blobs.stats()).count,
    )
    // Again: nothing left to do.
    const again = await applyRetention(store)
    expect(
      again.plan.archiveCells.length + again.plan.deleteSessions.length + again.plan.deleteArtifacts.length,
    ).toBe(0)
    expect(again.gc.removed).toBe(0)
  })

  it('meets a size budget by deleting the oldest artifacts first', async () => {
    const { store, clock, cells, artifacts } = await scenario()
    // Incompressible content, 400 KB a day from day 3 to day 6: the store grows past 1 MiB.
    const bulky = []
    for (let day = 3; day <= 6; day++) {
      clock.now = T0 + day * DAY
      bulky.push(
        await store.services.artifacts.put(
          { cellId: cells.fresh.id, type: 'file', name: `bulk-${day}.bin` },
          randomBytes(400_000),
        ),
      )
    }
    clock.now = T0 + 45 * DAY
    const probe = await planRetention(store, { policy: { maxTotalBytes: 1024 ** 4 } })
    const current = probe.budget?.currentBytes ?? 0
    expect(probe.budget).toMatchObject({ met: true, projectedBytes: current })
    expect(probe.deleteArtifacts).toEqual([])
    expect(current).toBeGreaterThan(1.5 * 1024 * 1024)

    // 500 KB over: the small old artifacts go first, then the oldest bulky one or two.
    const budget = current - 500_000
    const plan = await planRetention(store, { policy: { maxTotalBytes: budget } })
    expect(plan.budget).toMatchObject({ maxTotalBytes: budget, currentBytes: current, met: true })
    expect(plan.budget?.projectedBytes).toBeLessThanOrEqual(budget)
    expect(plan.deleteArtifacts.every((a) => a.reason === 'budget')).toBe(true)
    const created = plan.deleteArtifacts.map((a) => a.createdAt)
    expect(created).toEqual([...created].sort((a, b) => a - b))
    expect(created[0]).toBe(T0) // the spilled tool output of day 0
    const planned = plan.deleteArtifacts.map((a) => a.id)
    expect(planned).toContain(bulky[0]?.id)
    expect(planned).not.toContain(bulky[3]?.id)
    expect(planned).not.toContain(artifacts.sameContent.id)
    expect(plan.deleteCells).toEqual([])

    // The bulky blobs were written just now: no grace period for them here.
    const result = await applyRetention(store, { policy: { maxTotalBytes: budget }, graceMs: 0 })
    expect(result.deletedArtifacts).toBe(plan.deleteArtifacts.length)
    const after = await planRetention(store, { policy: { maxTotalBytes: budget } })
    expect(after.budget?.currentBytes).toBeLessThanOrEqual(budget)
    expect(after.deleteArtifacts).toEqual([])
  })

  it('leaves alone what changed while it ran: a session resumed, a cell active again', async () => {
    const { store, cells, sessions } = await scenario()
    const messagesOf = (id: string) =>
      store.database.sqlite.prepare('SELECT count(*) FROM messages WHERE session_id = ?').pluck().get(id)
    const before = messagesOf(sessions.second.id)
    const seen = new Set<string>()
    const result = await applyRetention(store, {
      policy: POLICY,
      onProgress: (event) => {
        if (seen.has(event.phase)) return
        seen.add(event.phase)
        // Between the plan and the work on each item, someone comes back to it.
        if (event.phase === 'archiving cells')
          store.database.sqlite
            .prepare('UPDATE sessions SET updated_at = ? WHERE id = ?')
            .run(Date.now(), sessions.third.id)
        if (event.phase === 'deleting sessions')
          store.database.sqlite
            .prepare("UPDATE sessions SET status = 'active' WHERE id = ?")
            .run(sessions.second.id)
      },
    })
    expect(result.plan.archiveCells.map((c) => c.id)).toEqual([cells.old.id])
    expect(result.plan.deleteSessions.map((s) => s.id)).toEqual([sessions.first.id, sessions.second.id])
    expect(result.skipped).toEqual([
      { id: cells.old.id, reason: 'active again since the plan was made' },
      { id: sessions.second.id, reason: 'active again' },
    ])
    expect(result.archivedCells).toBe(0)
    expect((await store.services.cells.get(cells.old.id)).status).toBe('completed')
    expect(messagesOf(sessions.second.id)).toBe(before)
    expect(messagesOf(sessions.first.id)).toBe(0)
  })

  it('stops deleting a session that gets a new message between batches, keeping its newest messages', async () => {
    const { store, cells } = await scenario()
    const big = await addSession(store, cells.old.id, { messages: 1200 })
    let appended = false
    const deleted = await deleteSessionsGently(
      store,
      [big.id],
      () => {
        if (appended) return
        appended = true
        // The agent resumes: a new message arrives after the first batch went.
        store.database.sqlite
          .prepare(
            "INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES (?, ?, 5000, 'user', 'completed', '{}', 1, 1)",
          )
          .run(ids.message(), big.id)
      },
      { onlyIdle: true },
    )
    expect(deleted.messages).toBe(DELETE_BATCH) // the first (oldest) batch only
    expect(deleted.sessions).toBe(0)
    expect(deleted.skipped).toEqual([{ id: big.id, reason: 'new messages since the deletion began' }])
    const left = store.database.sqlite
      .prepare('SELECT min(seq) AS first, count(*) AS n FROM messages WHERE session_id = ?')
      .get(big.id) as { first: number; n: number }
    expect(left).toEqual({ first: DELETE_BATCH, n: 1200 - DELETE_BATCH + 1 })
  })
})

describe('collectGarbage', () => {
  it('sweeps unreferenced blob files past the grace period and forgets their rows; a dry run deletes nothing', async () => {
    const { store, cells, artifacts } = await scenario()
    await store.services.artifacts.deleteForCell(cells.fresh.id)
    // The fresh copy went; the old shared log still uses that blob. The diff goes too:
    await store.services.artifacts.delete(artifacts.diff.id)
    const dry = await collectGarbage(store, { dryRun: true })
    expect(dry).toMatchObject({ dryRun: true, removed: 1, forgottenRows: 1 })
    expect(await store.blobs.has(artifacts.diff.blobHash)).toBe(true)
    const real = await collectGarbage(store)
    expect(real).toMatchObject({ removed: 1, forgottenRows: 1 })
    expect(real.bytesFreed).toBe(dry.bytesFreed)
    expect(await store.blobs.has(artifacts.diff.blobHash)).toBe(false)
    expect(await store.blobs.has(artifacts.sharedLog.blobHash)).toBe(true)
    expect(
      store.database.sqlite
        .prepare('SELECT count(*) FROM blobs WHERE hash = ?')
        .pluck()
        .get(artifacts.diff.blobHash),
    ).toBe(0)
  })

  it('keeps unreferenced blobs younger than the grace period', async () => {
    const { store, artifacts } = await scenario()
    await store.services.artifacts.delete(artifacts.diff.id)
    ageBlobFile((await store.blobs.stat(artifacts.diff.blobHash)).path, 10 * 60 * 1000)
    const kept = await collectGarbage(store)
    expect(kept).toMatchObject({ removed: 0, keptYoung: 1 })
    expect(await collectGarbage(store, { graceMs: 5 * 60 * 1000 })).toMatchObject({ removed: 1 })
    await expect(collectGarbage(store, { graceMs: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })
})

describe('gc racing other writers', () => {
  it('never takes a blob an import is about to refer to again', async () => {
    const { store, cells } = await scenario()
    const bundle = join(tempDir(), 'cell.tar')
    await exportBundle(store, { cellIds: [cells.old.id], output: bundle })
    await store.services.cells.delete(cells.old.id)
    // Its blobs are now unreferenced and old: exactly what gc collects.
    for await (const blob of store.blobs.list()) ageBlobFile(blob.path, 2 * 60 * 60 * 1000)
    let sweeping: Promise<unknown> | undefined
    await importBundle(store, {
      input: bundle,
      onProgress: (event) => {
        // The moment the import has found the first blob it needs, a gc sweeps the store.
        if (event.phase === 'storing blobs' && !sweeping) sweeping = collectGarbage(store)
      },
    })
    await sweeping
    const artifacts = store.database.sqlite
      .prepare('SELECT blob_hash FROM artifacts')
      .pluck()
      .all() as string[]
    expect(artifacts.length).toBeGreaterThan(0)
    for (const hash of artifacts) expect(await store.blobs.has(hash), hash).toBe(true)
  })
})

describe('vacuumStore', () => {
  it('gives the pages of deleted rows back to the file system, incrementally', async () => {
    const { store, cells } = await scenario()
    for (let i = 0; i < 30; i++)
      await addSession(store, cells.fresh.id, { messages: 20, words: `bulk ${'x'.repeat(2000)}` })
    store.database.checkpoint('truncate')
    const grown = statSync(store.layout.database).size
    store.database.sqlite.prepare('DELETE FROM sessions WHERE cell_id = ?').run(cells.fresh.id)
    const events: number[] = []
    const result = await vacuumStore(store, { onProgress: (e) => events.push(e.done) })
    expect(result.mode).toBe('incremental')
    expect(result.beforeBytes).toBe(grown)
    expect(result.afterBytes).toBeLessThan(grown / 2)
    expect(result.reclaimedBytes).toBe(grown - result.afterBytes)
    expect(result.freeBytes).toBe(0)
    expect(events.length).toBeGreaterThan(1)
    const full = await vacuumStore(store, { full: true })
    expect(full.mode).toBe('full')
    expect(store.database.sqlite.prepare('PRAGMA quick_check').pluck().get()).toBe('ok')
  })
})

describe('hive retention, cells, gc, vacuum', () => {
  it('sets, shows and applies a policy from the command line; bad values change nothing', async () => {
    const { dataDir, store, cells } = await scenario()
    await store.close()
    const hive = (...args: string[]) => hiveInProcess(['--data-dir', dataDir, ...args])
    const set = await hive(
      'retention',
      'set',
      '--artifact-max-age',
      'log=30',
      '--keep-sessions',
      '1',
      '--archive-after',
      '30',
      '--delete-archived-after',
      '30',
      '--max-total-size',
      '20GiB',
    )
    expect(set).toMatchObject({ code: 0, stderr: '' })
    const shown = JSON.parse((await hive('retention', 'show', '--json')).stdout)
    expect(shown).toEqual({ ...POLICY, maxTotalBytes: 20 * 1024 ** 3 })
    for (const bad of [
      ['--keep-sessions', '0'],
      ['--keep-sessions', 'lots'],
      ['--artifact-max-age', 'videos=3'],
      ['--artifact-max-age', 'log'],
      ['--max-total-size', '12XB'],
      ['--archive-after', '-3'],
    ]) {
      const result = await hive('retention', 'set', ...bad)
      expect(result.code, bad.join(' ')).toBe(2)
      expect(result.stderr).toMatch(/^hive: .*\[INVALID_INPUT\]\n$/)
    }
    expect(JSON.parse((await hive('retention', 'show', '--json')).stdout)).toEqual(shown)
    expect((await hive('retention', 'set')).code).toBe(2)
    expect((await hive('retention', 'set', '--max-total-size', 'off')).code).toBe(0)
    expect(JSON.parse((await hive('retention', 'show', '--json')).stdout).maxTotalBytes).toBeUndefined()

    const dry = await hive('retention', 'apply', '--dry-run')
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain(`would archive 1 cells:`)
    expect(dry.stdout).toContain(cells.old.id)
    expect(dry.stdout).toContain(`would delete 1 cells:`)
    expect(dry.stdout).toMatch(/would free: .* of blob files \(3\)/)
    const applied = await hive('retention', 'apply', '--json')
    expect(applied.code).toBe(0)
    expect(JSON.parse(applied.stdout)).toMatchObject({ archivedCells: 1, deletedCells: 1 })
    expect((await hive('retention', 'apply', '--dry-run')).stdout).toContain('nothing would change')
  })

  it('lists, archives and deletes cells; a wrong id among several deletes none', async () => {
    const { dataDir, store, cells } = await scenario()
    const before = counts(store)
    await store.close()
    const hive = (...args: string[]) => hiveInProcess(['--data-dir', dataDir, ...args])
    const listed = await hive('cells', 'ls', '--json')
    expect(
      JSON.parse(listed.stdout)
        .items.map((c: { id: string }) => c.id)
        .sort(),
    ).toEqual([cells.old.id, cells.gone.id, cells.fresh.id].sort())
    expect((await hive('cells', 'ls', '--status', 'archived')).stdout).toContain(cells.gone.id)
    expect((await hive('cells', 'ls', '--status', 'bogus')).code).toBe(2)

    const missing = ids.cell() // well-formed, and no such cell
    const partly = await hive('cells', 'rm', cells.fresh.id, missing)
    expect(partly.code).toBe(1)
    expect(partly.stderr).toBe(`hive: there is no cell ${missing} [NOT_FOUND]\n`)
    const dry = await hive('cells', 'rm', cells.fresh.id, '--dry-run')
    expect(dry.stdout).toContain(
      `would delete ${cells.fresh.id} "Fresh work": 1 sessions, 3 messages, 1 artifacts`,
    )
    const reopened = await clockedStore(dataDir)
    expect(counts(reopened.store)).toEqual(before)
    await reopened.store.close()

    // Archiving several: a wrong id or a cell that cannot be archived, and none is.
    const partlyArchived = await hive('cells', 'archive', cells.old.id, missing)
    expect(partlyArchived.code).toBe(1)
    expect(partlyArchived.stderr).toMatch(/\[NOT_FOUND\]\n$/)
    const notArchivable = await hive('cells', 'archive', cells.old.id, cells.gone.id)
    expect(notArchivable.code).toBe(1)
    expect(notArchivable.stderr).toMatch(/cannot go from archived to archived.*\[CONFLICT\]/)
    const check = await clockedStore(dataDir)
    expect((await check.store.services.cells.get(cells.old.id)).status).toBe('completed')
    await check.store.close()

    const removed = await hive('cells', 'rm', cells.fresh.id)
    expect(removed).toMatchObject({ code: 0, stderr: '' })
    const conflict = await hive('cells', 'archive', cells.old.id, '--json')
    expect(conflict.code).toBe(0)
    const again = await hive('cells', 'archive', cells.old.id)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/cannot go from archived to archived.*\[CONFLICT\]/)
    const after = await clockedStore(dataDir)
    expect(counts(after.store).cells).toBe((before.cells ?? 0) - 1)
    expect(after.store.database.sqlite.prepare('PRAGMA foreign_key_check').all()).toEqual([])
    await after.store.close()

    const gcDry = await hive('gc', '--dry-run', '--grace', '0', '--json')
    expect(JSON.parse(gcDry.stdout)).toMatchObject({ dryRun: true, removed: 0 }) // the copy's blob is shared
    const vacuum = await hive('vacuum')
    expect(vacuum.stdout).toMatch(/^incremental vacuum: /)
    expect((await hive('gc', '--grace', 'soon')).code).toBe(2)
    expect(existsSync(`${dataDir}/hive.db`)).toBe(true)
  })

  it('searches across cells from the command line', async () => {
    const { dataDir, store } = await scenario()
    await store.close()
    const found = await hiveInProcess(['--data-dir', dataDir, 'search', 'ancient'])
    expect(found.code).toBe(0)
    expect(found.stdout).toMatch(/\[ancient\] words number/)
    // Filters before or after the text; a cell filter takes one id each time.
    const { cells } = await clockedStore(dataDir).then(async (opened) => {
      const ids = opened.store.database.sqlite
        .prepare('SELECT id FROM cells ORDER BY name')
        .pluck()
        .all() as string[]
      await opened.store.close()
      return { cells: ids }
    })
    const filtered = await hiveInProcess([
      '--data-dir',
      dataDir,
      'search',
      '--cell',
      cells[1] as string,
      'ancient',
      '--json',
    ])
    expect(filtered.code).toBe(0)
    expect(JSON.parse(filtered.stdout).hits).toEqual([])
    const wrong = await hiveInProcess(['--data-dir', dataDir, 'search', '--cell', 'nope', 'ancient'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/^hive: invalid .*cell.*\[INVALID_INPUT\]\n$/)
    const none = await hiveInProcess(['--data-dir', dataDir, 'search', '"no such phrase anywhere"'])
    expect(none.stdout).toBe('no matches\n')
    // FTS syntax from a user is text, never an error.
    expect((await hiveInProcess(['--data-dir', dataDir, 'search', 'NEAR(', 'AND', '*'])).code).toBe(0)
  })
})
