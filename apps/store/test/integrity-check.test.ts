import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { sha256File, tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { type CheckReport, checkStore, openHiveStore, type ProgressEvent } from '../src/index.js'
import { compareSearchIndex, rebuildSearchIndex } from '../src/integrity/search-index.js'
import { hive, hiveInProcess } from './helpers.js'
import {
  blobFileOf,
  corruptBlob,
  databaseOf,
  garblePages,
  leafPagesOf,
  type Seeded,
  seedStore,
} from './integrity-fixture.js'

async function seeded(
  options: { cells?: number; messages?: number } = {},
): Promise<Seeded & { dir: string }> {
  const dir = tempDir()
  return { dir, ...(await seedStore(dir, { cells: 3, messages: 12, ...options })) }
}

async function check(
  dir: string,
  ...args: string[]
): Promise<{ code: number; report: CheckReport; stderr: string }> {
  const result = await hiveInProcess(['--data-dir', dir, 'check', '--json', ...args])
  return { code: result.code, report: JSON.parse(result.stdout) as CheckReport, stderr: result.stderr }
}

const kinds = (report: CheckReport) => report.problems.map((problem) => problem.kind)

describe('hive check', () => {
  it('finds nothing wrong with a sound data directory, and says what it checked', async () => {
    const { dir, artifacts } = await seeded()
    const text = await hiveInProcess(['--data-dir', dir, 'check'])
    expect(text).toMatchObject({ code: 0, stderr: '' })
    expect(text.stdout).toMatch(
      /^ok: no problems \(3 artifact\(s\), 3 blob\(s\) verified, \d+ search document\(s\), quick_check\)$/m,
    )

    const { code, report } = await check(dir, '--full')
    expect(code).toBe(0)
    expect(report).toMatchObject({
      ok: true,
      full: true,
      sample: 'all',
      problems: [],
      repaired: [],
      orphans: { files: [], rows: [] },
      stats: { artifacts: artifacts.length, artifactsMissing: 0, blobFiles: 3, blobsVerified: 3 },
    })
    expect(report.stats.searchDocuments).toBeGreaterThan(3 * 12)
  })

  it('reports progress by phase, with done and total', async () => {
    const { dir } = await seeded()
    const store = await openHiveStore({ dataDir: dir })
    const events: ProgressEvent[] = []
    try {
      const report = await checkStore(store, { onProgress: (event) => events.push(event) })
      expect(report.ok).toBe(true)
    } finally {
      await store.close()
    }
    const phases = [...new Set(events.map((event) => event.phase))]
    expect(phases).toEqual(['quick_check', 'foreign keys', 'search index', 'artifacts', 'blobs'])
    const blobs = events.filter((event) => event.phase === 'blobs')
    expect(blobs.at(-1)).toMatchObject({ done: 3, total: 3 })
    for (const event of events)
      expect(event.done).toBeLessThanOrEqual(event.total ?? Number.POSITIVE_INFINITY)
  })

  it('derives the same search documents as the triggers write (the rebuild cannot drift from the migrations)', async () => {
    const { dir } = await seeded()
    const store = await openHiveStore({ dataDir: dir })
    try {
      const sqlite = store.database.sqlite
      // Exercise every kind of document, and the update triggers too.
      sqlite.exec("UPDATE parts SET type = 'reasoning' WHERE rid % 3 = 0")
      sqlite.exec("UPDATE artifacts SET summary = 'a summary of the build' WHERE rid % 2 = 0")
      sqlite.exec('UPDATE cells SET description = NULL WHERE rid = 1')
      const written = sqlite.prepare('SELECT rowid, * FROM search ORDER BY rowid').all()
      expect(compareSearchIndex(sqlite)).toMatchObject({ missing: 0, different: 0, extra: 0 })
      const count = store.database.transaction(() => rebuildSearchIndex(sqlite))
      expect(count).toBe(written.length)
      expect(sqlite.prepare('SELECT rowid, * FROM search ORDER BY rowid').all()).toEqual(written)
      expect((await store.services.search.search({ text: 'zebra0x3' })).hits).toHaveLength(1)
    } finally {
      await store.close()
    }
    // The schema is exactly the migrations' after the table was dropped and created again.
    expect((await hiveInProcess(['--data-dir', dir, 'migrate', 'verify'])).code).toBe(0)
  })

  it('finds a stale search index and rebuilds it with --repair', async () => {
    const { dir } = await seeded()
    const store = await openHiveStore({ dataDir: dir })
    const sqlite = store.database.sqlite
    sqlite.exec("DELETE FROM search WHERE rowid IN (SELECT rowid FROM search WHERE kind = 'text' LIMIT 4)")
    sqlite.exec("UPDATE search SET body = 'stale words' WHERE kind = 'plan'")
    sqlite.exec(
      "INSERT INTO search (rowid, title, body, kind) VALUES (999999, 'ghost', 'a document without a row', 'cell')",
    )
    await store.close()

    const before = await check(dir)
    expect(before.code).toBe(1)
    expect(kinds(before.report)).toEqual(['search-index-stale'])
    expect(before.report.problems[0]?.details).toMatchObject({ missing: 4, different: 3, extra: 1 })

    const repaired = await check(dir, '--repair')
    expect(repaired.code).toBe(0)
    expect(repaired.report.found.map((p) => p.kind)).toEqual(['search-index-stale'])
    expect(repaired.report.repaired.map((a) => a.kind)).toEqual(['search-rebuilt'])
    expect(repaired.report.problems).toEqual([])

    const after = await openHiveStore({ dataDir: dir })
    try {
      expect((await after.services.search.search({ text: 'ghost' })).hits).toEqual([])
      expect((await after.services.search.search({ text: 'zebra1x0' })).hits).toHaveLength(1)
    } finally {
      await after.close()
    }
  })

  it("finds an index that fails FTS5's own integrity check, and rebuilds it", async () => {
    const { dir } = await seeded()
    const store = await openHiveStore({ dataDir: dir })
    // The stored documents no longer match the inverted index built from them.
    store.database.sqlite.unsafeMode(true)
    store.database.sqlite.exec("UPDATE search_content SET c1 = 'words the index never saw' WHERE id % 5 = 0")
    await store.close()

    const before = await check(dir)
    expect(before.code).toBe(1)
    expect(kinds(before.report)).toEqual(['search-index-corrupt'])

    const repaired = await check(dir, '--repair')
    expect(repaired.report.repaired.map((a) => a.kind)).toEqual(['search-rebuilt'])
    expect(repaired.code).toBe(0)
    expect((await check(dir)).code).toBe(0)
  })

  it('reports a corrupt blob; --repair quarantines it and marks its artifact missing; then the check passes', async () => {
    const { dir, artifacts } = await seeded()
    const victim = artifacts[1]!
    const path = corruptBlob(dir, victim.hash)
    const damaged = sha256File(path)

    const before = await check(dir)
    expect(before.code).toBe(1)
    expect(before.report.problems).toEqual([
      expect.objectContaining({
        kind: 'blob-corrupt',
        details: expect.objectContaining({ hash: victim.hash, artifacts: [victim.id] }),
      }),
    ])

    const repair = await hiveInProcess(['--data-dir', dir, 'check', '--repair'])
    expect(repair).toMatchObject({ code: 0, stderr: '' })
    expect(repair.stdout).toContain(`found     blob-corrupt: blob ${victim.hash} is corrupt`)
    expect(repair.stdout).toContain(`repaired  blob-quarantined: moved corrupt blob ${victim.hash}`)
    expect(repair.stdout).toContain('repaired  artifact-marked-missing')
    expect(repair.stdout).toMatch(/^ok: no problems remain/m)

    // Moved aside, never deleted.
    expect(existsSync(path)).toBe(false)
    const quarantined = readdirSync(join(dir, 'quarantine', 'blobs'))
    expect(quarantined).toHaveLength(1)
    expect(sha256File(join(dir, 'quarantine', 'blobs', quarantined[0]!))).toBe(damaged)

    const store = await openHiveStore({ dataDir: dir })
    try {
      expect((await store.services.artifacts.get(victim.id)).status).toBe('missing')
      await expect(store.services.artifacts.open(victim.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect((await store.services.artifacts.get(artifacts[0]!.id)).status).toBe('available')
    } finally {
      await store.close()
    }
    const after = await check(dir)
    expect(after.code).toBe(0)
    expect(after.report.stats).toMatchObject({ artifactsMissing: 1, blobFiles: 2 })
  })

  it('reports a missing blob file, marks its artifact missing, and makes it available again when the file is back', async () => {
    const { dir, artifacts } = await seeded()
    const victim = artifacts[0]!
    const path = blobFileOf(dir, victim.hash)
    const saved = join(dir, 'saved-blob')
    copyFileSync(path, saved)
    rmSync(path)

    const before = await check(dir)
    expect(before.code).toBe(1)
    expect(before.report.problems).toEqual([
      expect.objectContaining({
        kind: 'blob-missing',
        details: { hash: victim.hash, artifacts: [victim.id] },
      }),
    ])
    const repaired = await check(dir, '--repair')
    expect(repaired.code).toBe(0)
    expect(repaired.report.repaired.map((a) => a.kind)).toEqual(['artifact-marked-missing'])
    expect((await check(dir)).code).toBe(0)

    // The file comes back (from a backup, by hand): verified, the artifact is available again.
    copyFileSync(saved, path)
    const restored = await check(dir, '--repair')
    expect(restored.code).toBe(0)
    expect(restored.report.repaired).toEqual([
      expect.objectContaining({
        kind: 'artifact-restored',
        details: { hash: victim.hash, artifacts: [victim.id] },
      }),
    ])
    const store = await openHiveStore({ dataDir: dir })
    try {
      expect((await (await store.services.artifacts.open(victim.id)).buffer()).toString()).toMatch(
        /^build log of cell 0/,
      )
    } finally {
      await store.close()
    }
  })

  it('verifies a sample of the blobs with --sample N or PERCENT', async () => {
    const { dir, artifacts } = await seeded({ cells: 4 })
    const one = await check(dir, '--sample', '1')
    expect(one.code).toBe(0)
    expect(one.report.sample).toEqual({ verified: 1, of: 4 })
    expect(one.report.stats.blobsVerified).toBe(1)
    const half = await check(dir, '--sample', '50%')
    expect(half.report.sample).toEqual({ verified: 2, of: 4 })
    const all = await check(dir, '--sample', '100%')
    expect(all.report.sample).toEqual({ verified: 4, of: 4 })

    // A sample finds a corrupt blob when it picks it: 100% always does.
    corruptBlob(dir, artifacts[3]!.hash)
    expect(kinds((await check(dir, '--sample', '100%')).report)).toEqual(['blob-corrupt'])
    const text = await hiveInProcess(['--data-dir', dir, 'check', '--sample', '2'])
    expect(text.stdout).toMatch(/2 of 4 blob\(s\) verified \(sample\)/)
  })

  it.each([['abc'], ['0'], ['0%'], ['101%'], ['-3'], ['1.5'], ['']])(
    'refuses --sample %j as invalid usage (exit 2) before opening anything',
    async (value) => {
      const dir = tempDir()
      const result = await hiveInProcess(['--data-dir', join(dir, 'nowhere'), 'check', '--sample', value])
      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/^hive: --sample must be a number of blobs .+ \[INVALID_INPUT\]\n$/)
    },
  )

  it('lists blob files and rows that nothing refers to without calling them problems, and drops stale rows', async () => {
    const { dir, artifacts } = await seeded()
    const store = await openHiveStore({ dataDir: dir })
    const orphan = await store.blobs.put(Buffer.from('nobody refers to this content'))
    const stale = 'f'.repeat(64)
    store.database.sqlite
      .prepare("INSERT INTO blobs (hash, size, stored_size, encoding, created_at) VALUES (?, 1, 1, 'raw', 1)")
      .run(stale)
    // A row whose artifact is gone but whose file is still there: garbage for gc, not a problem.
    await store.services.artifacts.delete(artifacts[2]!.id)
    await store.close()

    const before = await check(dir)
    expect(before.report.orphans).toEqual({
      files: [{ hash: orphan.hash, storedSize: orphan.storedSize }],
      rows: [artifacts[2]!.hash],
    })
    expect(before.report.problems).toEqual([
      expect.objectContaining({ kind: 'blob-row-stale', details: { count: 1, hashes: [stale] } }),
    ])
    const repaired = await check(dir, '--repair')
    expect(repaired.code).toBe(0)
    expect(repaired.report.repaired.map((a) => a.kind)).toEqual(['snapshot-taken', 'blob-row-deleted'])
    expect(repaired.report.orphans.files).toHaveLength(1)
  })

  it('repairs dangling references the way the schema would, after a snapshot', async () => {
    const { dir, cells, artifacts } = await seeded()
    const store = await openHiveStore({ dataDir: dir })
    const sqlite = store.database.sqlite
    sqlite.pragma('foreign_keys = OFF')
    // Rows whose parents were lost, as a damaged page or a foreign tool leaves them.
    sqlite.exec(`DELETE FROM sessions WHERE cell_id = '${cells[2]}'`) // its messages dangle
    sqlite.exec('DELETE FROM workspaces') // every cell dangles
    sqlite.exec(`DELETE FROM blobs WHERE hash = '${artifacts[0]!.hash}'`) // its file is still there
    sqlite.exec(
      `UPDATE artifacts SET session_id = 'ses_00000000000000000000000000' WHERE id = '${artifacts[1]!.id}'`,
    )
    sqlite.pragma('foreign_keys = ON')
    const messages = sqlite.prepare('SELECT count(*) FROM messages').pluck().get() as number
    await store.close()

    const before = await check(dir)
    expect(before.code).toBe(1)
    const problems = before.report.problems.filter((p) => p.kind === 'foreign-key').map((p) => p.details)
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ table: 'cells', parent: 'workspaces', count: 3, onDelete: 'NO ACTION' }),
        expect.objectContaining({ table: 'messages', parent: 'sessions', count: 12, onDelete: 'CASCADE' }),
        expect.objectContaining({ table: 'artifacts', parent: 'blobs', count: 1 }),
        expect.objectContaining({ table: 'artifacts', parent: 'sessions', count: 1, onDelete: 'SET NULL' }),
      ]),
    )

    const repaired = await check(dir, '--repair')
    expect(repaired.code).toBe(0)
    expect(repaired.report.problems).toEqual([])
    const done = repaired.report.repaired.map((a) => a.kind)
    expect(done[0]).toBe('snapshot-taken')
    expect(done).toEqual(
      expect.arrayContaining([
        'workspace-recreated',
        'blob-row-created',
        'reference-cleared',
        'rows-deleted',
      ]),
    )
    const snapshot = repaired.report.repaired[0]!.details.snapshot as string
    expect(readdirSync(join(dir, 'snapshots'))).toContain(snapshot)

    const after = await openHiveStore({ dataDir: dir })
    try {
      const sqlite = after.database.sqlite
      expect(sqlite.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(messages - 12)
      expect((await after.services.workspaces.list()).map((w) => w.name)).toEqual([
        expect.stringMatching(/^recovered ws_/),
      ])
      expect((await after.services.artifacts.get(artifacts[1]!.id)).sessionId).toBeNull()
      // The blobs row came back from the file: the artifact is still available and reads.
      expect((await (await after.services.artifacts.open(artifacts[0]!.id)).buffer()).length).toBeGreaterThan(
        0,
      )
    } finally {
      await after.close()
    }

    // The snapshot undoes the repair.
    const restore = await hiveInProcess(['--data-dir', dir, 'migrate', 'restore', '--snapshot', snapshot])
    expect(restore.code).toBe(0)
    expect((await check(dir)).report.problems.some((p) => p.kind === 'foreign-key')).toBe(true)
  })

  it('reports a damaged database as problems, never writes to it, and points to hive recover', async () => {
    const { dir } = await seeded({ cells: 4, messages: 30 })
    const path = databaseOf(dir)
    // Pages in the middle of the transcripts' table: the database opens, reading them fails.
    const pages = leafPagesOf(path, 'parts')
    const middle = pages[Math.floor(pages.length / 2)]!
    garblePages(path, middle, middle)
    const damaged = sha256File(path)

    const result = await hive(['--data-dir', dir, 'check', '--repair'])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^problem {3}database-corrupt: .*run `hive recover`$/m)
    expect(result.stdout).toContain('repaired  nothing')
    expect(result.stdout).not.toMatch(/\bat .+\.ts:\d+/) // no stack trace
    expect(sha256File(path)).toBe(damaged)
  })

  it('reports a database that does not open as unreadable, in text and JSON', async () => {
    const dir = tempDir()
    writeFileSync(databaseOf(dir), 'this is a note, not a database\n'.repeat(200))
    const json = await check(dir)
    expect(json.code).toBe(1)
    expect(json.report).toMatchObject({
      ok: false,
      problems: [{ kind: 'database-unreadable', details: { code: 'NOT_A_DATABASE' } }],
    })
    const text = await hive(['--data-dir', dir, 'check'])
    expect(text.code).toBe(1)
    expect(text.stderr).toBe('')
    expect(text.stdout).toMatch(
      /problem {3}database-unreadable: .*not a SQLite database.*restore a backup or a snapshot, or start over with `hive recover --force`/,
    )
  })

  it('fails with one line when there is nothing to check', async () => {
    const dir = tempDir()
    const missingDir = await hiveInProcess(['--data-dir', join(dir, 'nowhere'), 'check'])
    expect(missingDir.code).toBe(1)
    expect(missingDir.stderr).toMatch(/^hive: data directory .+ does not exist \[DATA_DIR_UNUSABLE\]\n$/)
    mkdirSync(dirname(databaseOf(join(dir, 'empty'))), { recursive: true })
    const missingDb = await hiveInProcess(['--data-dir', join(dir, 'empty'), 'check'])
    expect(missingDb.code).toBe(1)
    expect(missingDb.stderr).toMatch(/^hive: there is no Hive database in .+ \[NOT_FOUND\]\n$/)
  })
})
