import { copyFileSync, existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isHiveStorageError } from '@hive/errors'
import { HIVE_MIGRATION_NAMES } from '@hive/migrations'
import { ids } from '@hive/schema'
import { sha256File, tempDir } from '@hive/testing'
import Sqlite from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import {
  type HiveStore,
  openHiveStore,
  type ProgressEvent,
  type RecoverReport,
  recoverDatabase,
} from '../src/index.js'
import { hive, hiveInProcess } from './helpers.js'
import {
  cellsPerPage,
  countRows,
  databaseOf,
  garblePages,
  leafPagesOf,
  overflowPagesOf,
  pageInfo,
  seedStore,
  truncatePages,
} from './integrity-fixture.js'

/** Everything a reader of the store does, so that every damaged page is met. */
async function readEverything(store: HiveStore, sessions: readonly string[]): Promise<void> {
  await store.services.workspaces.list()
  await store.services.cells.list({ limit: 500 })
  for (const session of sessions) await store.services.transcripts.page(session, { limit: 1000 })
  await store.services.search.search({ text: 'zebra' })
  await store.services.timeline.list({ limit: 500 })
}

async function recover(dir: string, ...args: string[]) {
  const result = await hiveInProcess(['--data-dir', dir, 'recover', '--json', ...args])
  return { ...result, report: result.code === 0 ? (JSON.parse(result.stdout) as RecoverReport) : undefined }
}

const byTable = (report: RecoverReport) => Object.fromEntries(report.tables.map((t) => [t.table, t]))

describe('a damaged database', () => {
  it.each([
    [
      'truncated to 40% of its pages',
      (path: string) => truncatePages(path, Math.floor(pageInfo(path).pages * 0.4)),
    ],
    [
      'with garbage pages in the middle',
      (path: string) => {
        const pages = leafPagesOf(path, 'parts')
        garblePages(path, pages[2]!, pages[5]!)
      },
    ],
    ['with its schema pages overwritten', (path: string) => garblePages(path, 1, 1, 0x00)],
    [
      'that is not a SQLite file',
      (path: string) => writeFileSync(path, 'PK\u0003\u0004 an archive, not a database'.repeat(500)),
    ],
  ])('%s never fails with anything but a typed error', async (_, damage) => {
    const dir = tempDir()
    const { sessions } = await seedStore(dir, { cells: 4, messages: 30 })
    damage(databaseOf(dir))
    let failure: unknown
    try {
      const store = await openHiveStore({ dataDir: dir })
      try {
        await readEverything(store, sessions)
      } finally {
        await store.close()
      }
    } catch (error) {
      failure = error
    }
    expect(failure).toBeDefined()
    expect(isHiveStorageError(failure, 'DATABASE_CORRUPT', 'NOT_A_DATABASE')).toBe(true)
    expect((failure as Error).message).toMatch(/corrupt|not a SQLite database/)
  })
})

describe('hive recover', () => {
  it('salvages every readable row of a database with damaged pages, and loses exactly the rows on them', async () => {
    const dir = tempDir()
    const { counts, sessions } = await seedStore(dir, { cells: 5, messages: 40 })
    const path = databaseOf(dir)
    // Two leaf pages of messages and one of events: the rows on them are what is lost.
    const messagePages = cellsPerPage(path, 'messages')
    const eventPages = cellsPerPage(path, 'events')
    const [m1, m2] = [...messagePages.keys()].sort((a, b) => a - b).slice(2, 4)
    const e1 = [...eventPages.keys()].sort((a, b) => a - b)[1]!
    for (const page of [m1!, m2!, e1]) garblePages(path, page, page)
    const onPages = messagePages.get(m1!)! + messagePages.get(m2!)!
    const damaged = sha256File(path)

    const events: ProgressEvent[] = []
    const report = await recoverDatabase({ dataDir: dir, onProgress: (event) => events.push(event) })

    const tables = byTable(report)
    expect(tables.messages).toMatchObject({ found: true, rejected: 0, expected: counts.messages })
    expect(tables.messages!.lost).toBe(onPages)
    expect(tables.messages!.salvaged).toBe(counts.messages! - onPages)
    expect(tables.messages!.unreadable.length).toBeGreaterThan(0)
    expect(tables.events!.lost).toBe(eventPages.get(e1))
    for (const table of ['workspaces', 'cells', 'sessions', 'plans', 'artifacts', 'blobs']) {
      expect(tables[table]).toMatchObject({ salvaged: counts[table], lost: 0, rejected: 0 })
    }
    // The parts of lost messages cannot be reached: deleted, as the schema's ON DELETE CASCADE would.
    expect(report.danglingReferences).toEqual([
      expect.objectContaining({ table: 'parts', parent: 'messages', onDelete: 'CASCADE', count: onPages }),
    ])
    expect(report.repaired).toEqual([
      expect.objectContaining({ kind: 'rows-deleted', details: expect.objectContaining({ rows: onPages }) }),
    ])
    expect(report.check).toEqual({ ok: true, problems: [] })
    expect(report.totals.lost).toBe(onPages + eventPages.get(e1)!)

    // The damaged file is kept, byte for byte, in quarantine/.
    expect(report.quarantined).toHaveLength(1)
    expect(sha256File(report.quarantined[0]!)).toBe(damaged)
    expect(readdirSync(dir).filter((name) => name.startsWith('.'))).toEqual([])
    expect(new Set(events.map((event) => event.phase))).toContain('salvaging messages')
    expect(events.at(-1)).toMatchObject({ phase: 'installing', done: 1, total: 1 })

    // The new database is sound, complete where it could be, and searchable.
    const store = await openHiveStore({ dataDir: dir })
    try {
      const now = countRows(store)
      expect(now.messages).toBe(counts.messages! - onPages)
      expect(now.parts).toBe(counts.parts! - onPages)
      expect(now.cells).toBe(counts.cells)
      await readEverything(store, sessions)
      expect((await store.services.search.search({ text: 'zebra0x0' })).hits).toHaveLength(1)
    } finally {
      await store.close()
    }
    const check = await hiveInProcess(['--data-dir', dir, 'check'])
    expect(check.code).toBe(0)
    expect((await hiveInProcess(['--data-dir', dir, 'migrate', 'verify'])).code).toBe(0)
  })

  it('loses only the row whose overflow page is damaged, not its neighbours', async () => {
    const dir = tempDir()
    const { counts, cells, sessions } = await seedStore(dir, { cells: 2, messages: 20 })
    const store = await openHiveStore({ dataDir: dir })
    const message = ids.message()
    await store.services.transcripts.append(
      { cellId: cells[0]!, sessionId: sessions[0]! },
      {
        info: { id: message, role: 'assistant', time: { created: 99_000 } },
        parts: [{ id: ids.part(), messageID: message, type: 'text', text: 'a long answer '.repeat(2000) }],
      },
    )
    await store.close()
    const path = databaseOf(dir)
    const [overflow] = overflowPagesOf(path, 'parts')
    garblePages(path, overflow!, overflow!)

    const { code, report } = await recover(dir)
    expect(code).toBe(0)
    expect(byTable(report!).parts).toMatchObject({
      salvaged: counts.parts!,
      lost: 1,
      expected: counts.parts! + 1,
    })
    expect(byTable(report!).messages).toMatchObject({ salvaged: counts.messages! + 1, lost: 0 })
    expect((await hiveInProcess(['--data-dir', dir, 'check'])).code).toBe(0)
  })

  it('recovers a truncated file, and a table whose b-tree root is gone', async () => {
    const dir = tempDir()
    const { counts, artifacts } = await seedStore(dir, { cells: 4, messages: 30 })
    const path = databaseOf(dir)
    // The blobs table (without rowid) is one page: all of it goes, and comes back from the blob files.
    const [blobsPage] = leafPagesOf(path, 'blobs')
    garblePages(path, blobsPage!, blobsPage!)
    truncatePages(path, pageInfo(path).pages - 10)

    const { code, report, stderr } = await recover(dir)
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const tables = byTable(report!)
    expect(tables.blobs).toMatchObject({ salvaged: 0, found: true })
    expect(tables.cells).toMatchObject({ salvaged: counts.cells, lost: 0 })
    expect(report!.repaired.filter((a) => a.kind === 'blob-row-created')).toHaveLength(artifacts.length)
    expect((await hiveInProcess(['--data-dir', dir, 'check'])).code).toBe(0)
  })

  it('salvages rows that were only in the WAL', async () => {
    const dir = tempDir()
    await seedStore(dir, { cells: 2, messages: 5 })
    const path = databaseOf(dir)
    // A writer that never checkpoints: its last commits are only in hive.db-wal.
    const writer = new Sqlite(path)
    writer.pragma('wal_autocheckpoint = 0')
    writer.exec("INSERT INTO settings (key, value, updated_at) VALUES ('only.in.wal', '{\"kept\":true}', 1)")
    copyFileSync(path, join(dir, 'main.copy'))
    copyFileSync(`${path}-wal`, join(dir, 'wal.copy'))
    writer.close()
    // Put back the files as a crash left them, then damage a page of the main file.
    copyFileSync(join(dir, 'main.copy'), path)
    copyFileSync(join(dir, 'wal.copy'), `${path}-wal`)
    const [page] = leafPagesOf(join(dir, 'main.copy'), 'events')
    garblePages(path, page!, page!)

    const { code, report } = await recover(dir)
    expect(code).toBe(0)
    expect(byTable(report!).settings).toMatchObject({ salvaged: 1, lost: 0 })
    expect(report!.quarantined.map((p) => p.replace(/^.*-hive\.db/, 'hive.db'))).toEqual([
      'hive.db',
      'hive.db-wal',
    ])
    expect(existsSync(`${path}-wal`)).toBe(false)
    const store = await openHiveStore({ dataDir: dir })
    try {
      expect(
        store.database.sqlite.prepare("SELECT value FROM settings WHERE key = 'only.in.wal'").pluck().get(),
      ).toBe('{"kept":true}')
    } finally {
      await store.close()
    }
  })

  it('loses nothing when only an index is damaged: indexes are rebuilt, not copied', async () => {
    const dir = tempDir()
    const { counts } = await seedStore(dir, { cells: 4, messages: 30 })
    const path = databaseOf(dir)
    for (const index of ['sqlite_autoindex_messages_2', 'events_cell_created']) {
      const [page] = leafPagesOf(path, index)
      garblePages(path, page!, page!)
    }
    expect((await hiveInProcess(['--data-dir', dir, 'check', '--full'])).code).toBe(1)
    const { code, report } = await recover(dir)
    expect(code).toBe(0)
    expect(report!.totals).toMatchObject({ lost: 0, rejected: 0, uncounted: [] })
    for (const [table, rows] of Object.entries(counts)) expect(byTable(report!)[table]?.salvaged).toBe(rows)
    expect((await hiveInProcess(['--data-dir', dir, 'check', '--full'])).code).toBe(0)
  })

  it('recovers a database of an older schema version into the current one', async () => {
    const dir = tempDir()
    expect(
      (await hiveInProcess(['--data-dir', dir, 'migrate', '--to', '0002_exact_search_index'])).code,
    ).toBe(0)
    const db = new Sqlite(databaseOf(dir))
    db.prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)').run('ws_old', 'old', '/old', 1, 1)
    const cell = db.prepare(
      "INSERT INTO cells (id, workspace_id, name, description, type, status, created_at, updated_at) VALUES (?, 'ws_old', ?, ?, 'manual', 'draft', 1, 1)",
    )
    for (let i = 0; i < 400; i++)
      cell.run(`cell_old${i}`, `old cell ${i}`, `a description of cell ${i} `.repeat(10))
    db.close()
    const pages = leafPagesOf(databaseOf(dir), 'cells')
    garblePages(databaseOf(dir), pages[4]!, pages[4]!)

    const { code, report } = await recover(dir)
    expect(code).toBe(0)
    expect(report!.fromVersion).toBe('0002_exact_search_index')
    expect(report!.version).toBe(HIVE_MIGRATION_NAMES.at(-1))
    const cells = byTable(report!).cells!
    expect(cells.lost).toBeGreaterThan(0)
    expect(cells.salvaged + cells.lost!).toBe(400)
    expect((await hiveInProcess(['--data-dir', dir, 'migrate', 'status', '--json'])).code).toBe(0)
    expect((await hiveInProcess(['--data-dir', dir, 'check'])).code).toBe(0)
  })

  it('refuses a database migrated by a newer Hive', async () => {
    const dir = tempDir()
    await seedStore(dir, { cells: 2, messages: 10 })
    const db = new Sqlite(databaseOf(dir))
    db.prepare(
      'INSERT INTO hive_migrations (name, checksum, applied_at, duration_ms) VALUES (?, ?, 1, 1)',
    ).run('9999_from_the_future', 'f'.repeat(64))
    db.close()
    const [page] = leafPagesOf(databaseOf(dir), 'parts')
    garblePages(databaseOf(dir), page!, page!)
    const damaged = sha256File(databaseOf(dir))
    const result = await hiveInProcess(['--data-dir', dir, 'recover'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/newer Hive \(9999_from_the_future\).+\[DATABASE_TOO_NEW\]\n$/)
    expect(sha256File(databaseOf(dir))).toBe(damaged)
  })

  it('refuses a sound database unless --force, which rebuilds it without losing a row', async () => {
    const dir = tempDir()
    const { counts } = await seedStore(dir, { cells: 2, messages: 5 })
    const before = sha256File(databaseOf(dir))
    const refused = await hiveInProcess(['--data-dir', dir, 'recover'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(
      /^hive: .+ passes its integrity and foreign key checks: there is nothing to recover .+ \[CONFLICT\]\n$/,
    )
    expect(sha256File(databaseOf(dir))).toBe(before)
    expect(existsSync(join(dir, 'quarantine'))).toBe(false)

    const forced = await recover(dir, '--force')
    expect(forced.code).toBe(0)
    expect(forced.report!.totals).toMatchObject({ lost: 0, rejected: 0, uncounted: [] })
    for (const [table, rows] of Object.entries(counts))
      expect(byTable(forced.report!)[table]?.salvaged).toBe(rows)
    expect((await hiveInProcess(['--data-dir', dir, 'check'])).code).toBe(0)
  })

  it('refuses a file nothing can be read from unless --force, which starts over and keeps the file', async () => {
    const dir = tempDir()
    const path = databaseOf(dir)
    writeFileSync(path, 'not a database at all\n'.repeat(300))
    const refused = await hive(['--data-dir', dir, 'recover'])
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toMatch(
      /^hive: nothing can be read from .+hive\.db .+`hive recover --force`\) \[NOT_A_DATABASE\]\n$/,
    )

    const forced = await recover(dir, '--force')
    expect(forced.code).toBe(0)
    expect(forced.report!.totals.salvaged).toBe(0)
    expect(forced.report!.tables.every((t) => !t.found)).toBe(true)
    expect(readdirSync(join(dir, 'quarantine'))).toHaveLength(1)
    expect((await hiveInProcess(['--data-dir', dir, 'check'])).code).toBe(0)
  })

  it('removes the working files of a recovery interrupted an hour ago or more, and only those', async () => {
    const dir = tempDir()
    await seedStore(dir, { cells: 1, messages: 2 })
    const old = Date.now() / 1000 - 2 * 60 * 60
    mkdirSync(join(dir, '.recover-123-0badc0de'))
    writeFileSync(join(dir, '.hive.db.recover-123-0badc0de'), 'half a database')
    for (const name of ['.recover-123-0badc0de', '.hive.db.recover-123-0badc0de'])
      utimesSync(join(dir, name), old, old)
    writeFileSync(join(dir, '.hive.db.recover-456-0123abcd'), 'a recovery still running')
    expect((await recover(dir, '--force')).code).toBe(0)
    expect(readdirSync(dir).filter((name) => name.startsWith('.'))).toEqual(['.hive.db.recover-456-0123abcd'])
  })

  it('fails with one line when there is no database, or no data directory', async () => {
    const dir = tempDir()
    const missing = await hiveInProcess(['--data-dir', dir, 'recover'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^hive: there is no database to recover in .+ \[NOT_FOUND\]\n$/)
    const nowhere = await hiveInProcess(['--data-dir', join(dir, 'nowhere'), 'recover'])
    expect(nowhere.code).toBe(1)
    expect(nowhere.stderr).toMatch(/\[DATA_DIR_UNUSABLE\]\n$/)
  })

  it('leaves the damaged database where it was when it cannot finish', async () => {
    const dir = tempDir()
    await seedStore(dir, { cells: 2, messages: 20 })
    const path = databaseOf(dir)
    const [page] = leafPagesOf(path, 'parts')
    garblePages(path, page!, page!)
    const damaged = sha256File(path)
    writeFileSync(join(dir, 'quarantine'), 'a file where the quarantine directory should be')
    const failed = await hiveInProcess(['--data-dir', dir, 'recover'])
    expect(failed.code).toBe(1)
    expect(failed.stderr.split('\n')).toHaveLength(2)
    expect(sha256File(path)).toBe(damaged)
    expect(readdirSync(dir).sort()).toEqual(['blobs', 'hive.db', 'quarantine'])
  })

  it('prints what it salvaged and lost, table by table', async () => {
    const dir = tempDir()
    await seedStore(dir, { cells: 3, messages: 30 })
    const path = databaseOf(dir)
    const pages = leafPagesOf(path, 'messages')
    garblePages(path, pages[1]!, pages[1]!)
    const result = await hive(['--data-dir', dir, 'recover'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^recovered .+hive\.db \(schema \d{4}_\w+\)$/m)
    expect(result.stdout).toMatch(/^the damaged file is kept as .+quarantine.+-hive\.db$/m)
    expect(result.stdout).toMatch(/^ {2}TABLE\s+SALVAGED\s+LOST\s+REJECTED$/m)
    expect(result.stdout).toMatch(/^ {2}messages\s+\d+\s+[1-9]\d*\s+0$/m)
    expect(result.stdout).toMatch(/^\d+ row\(s\) salvaged, [1-9]\d* lost, 0 rejected$/m)
  })
})
