import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import Sqlite from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import {
  importOpencode,
  ingestOpencodeMessages,
  type OpencodeSessionSkipped,
  type ProgressEvent,
} from '../src/index.js'
import {
  CHILD,
  changedRows,
  contentHash,
  copyFixture,
  count,
  expectFixtureImported,
  expectFixtureMapping,
  FIXTURES,
  JSON_STORAGE,
  newStore,
  OPENCODE_DB,
  OTHER,
  PARENT,
  tableRows,
  treeHashes,
} from './opencode-helpers.js'

const FORMS = [
  ['the JSON storage of OpenCode ≤ 1.1', JSON_STORAGE, 'json-storage', join(JSON_STORAGE, 'storage')],
  ['opencode.db of OpenCode ≥ 1.2', OPENCODE_DB, 'sqlite', OPENCODE_DB],
] as const

describe('importOpencode', () => {
  it('finds the fixture paths beside the repository', () => {
    expect(readdirSync(FIXTURES)).toEqual(
      expect.arrayContaining(['json-storage', 'opencode.db', 'README.md']),
    )
  })

  describe.each(FORMS)('from %s', (_label, dir, format, read) => {
    it("imports every session with exactly the fixture README's counts, and only reads the source", async () => {
      const store = await newStore()
      const source = treeHashes(FIXTURES)
      const events: ProgressEvent[] = []
      const result = await importOpencode(store, { dir, onProgress: (event) => events.push(event) })

      expect(result.source).toEqual({ path: read, format })
      expect(result.totals).toEqual({
        sessions: 3,
        imported: 3,
        updated: 0,
        unchanged: 0,
        skipped: 0,
        subagentSessions: 1,
        messages: { added: 40, updated: 0, unchanged: 0 },
        parts: { added: 134, updated: 0, unchanged: 0 },
      })
      expect(result.workspacesCreated).toHaveLength(2)
      expect(result.cellsCreated).toHaveLength(2)
      // Parents before their sub-agent sessions.
      const order = result.sessions.map((s) => s.externalId)
      expect(order.indexOf(PARENT)).toBeLessThan(order.indexOf(CHILD))
      expect(result.sessions.find((s) => s.externalId === CHILD)).toMatchObject({
        outcome: 'imported',
        parentExternalId: PARENT,
        createdCellId: null,
        messages: { added: 5 },
        parts: { added: 15 },
      })
      expectFixtureImported(store)
      expectFixtureMapping(store)
      // Searchable at once.
      const { hits } = await store.services.search.search({ text: 'wildcard listeners' })
      expect(hits.length).toBeGreaterThan(0)

      expect(events[0]).toEqual({ phase: 'sessions', done: 0, total: 3 })
      expect(events.at(-1)).toEqual({ phase: 'sessions', done: 3, total: 3 })
      expect(events.map((e) => e.done)).toEqual([0, 1, 2, 3])
      // Nothing was written where the fixtures are (no -wal/-shm next to opencode.db either).
      expect(treeHashes(FIXTURES)).toEqual(source)
    })

    it('imports nothing the second time: 0 new or changed, and the database is unchanged', async () => {
      const store = await newStore()
      await importOpencode(store, { dir })
      const hash = contentHash(store)
      const counts = ['sessions', 'messages', 'parts', 'artifacts', 'events', 'cells', 'workspaces'].map(
        (t) => count(store, `SELECT count(*) FROM ${t}`),
      )
      const again = await importOpencode(store, { dir })
      expect(again.totals).toMatchObject({
        imported: 0,
        updated: 0,
        unchanged: 3,
        skipped: 0,
        messages: { added: 0, updated: 0, unchanged: 40 },
        parts: { added: 0, updated: 0, unchanged: 134 },
      })
      expect(again.workspacesCreated).toEqual([])
      expect(again.cellsCreated).toEqual([])
      expect(contentHash(store)).toBe(hash)
      expect(
        ['sessions', 'messages', 'parts', 'artifacts', 'events', 'cells', 'workspaces'].map((t) =>
          count(store, `SELECT count(*) FROM ${t}`),
        ),
      ).toEqual(counts)
    })
  })

  it('finds the same messages and parts in both forms: the database after the JSON files changes none', async () => {
    const store = await newStore()
    await importOpencode(store, { dir: JSON_STORAGE })
    const result = await importOpencode(store, { dir: FIXTURES })
    expect(result.source.format).toBe('sqlite')
    expect(result.totals.messages).toEqual({ added: 0, updated: 0, unchanged: 40 })
    expect(result.totals.parts).toEqual({ added: 0, updated: 0, unchanged: 134 })
    expect(result.totals.skipped).toBe(0)
    // The sessions' own objects differ: the database has the session's cost and tokens columns.
    expect(result.sessions.map((s) => s.outcome === 'updated' && s.sessionChanged)).toEqual([
      true,
      true,
      true,
    ])
    expectFixtureImported(store)
  })

  it('writes only the message and the part that changed in the JSON files', async () => {
    const storage = copyFixture('json-storage')
    const store = await newStore()
    await importOpencode(store, { dir: storage })
    const before = tableRows(store)

    const partFile = join(
      storage,
      'storage/part/msg_c23d4a8e0001yxCgEdBiDW6aZv/prt_c23d4afc6002JGXFVFXBOch2lk.json',
    )
    const part = JSON.parse(readFileSync(partFile, 'utf8'))
    part.text = 'I will grep for the emit loop and the zeppelin registry.'
    writeFileSync(partFile, JSON.stringify(part, null, 2))
    const messageFile = join(storage, 'storage/message', OTHER, 'msg_c2d1e81d5001PXnBTJiB65AI85.json')
    const message = JSON.parse(readFileSync(messageFile, 'utf8'))
    message.time.completed += 1000
    writeFileSync(messageFile, JSON.stringify(message, null, 2))

    const result = await importOpencode(store, { dir: storage })
    expect(result.totals).toMatchObject({
      imported: 0,
      updated: 2,
      unchanged: 1,
      messages: { added: 0, updated: 2, unchanged: 38 },
      parts: { added: 0, updated: 1, unchanged: 133 },
    })
    expect(result.sessions.find((s) => s.externalId === CHILD)).toMatchObject({
      outcome: 'updated',
      messages: { updated: 1 },
      parts: { updated: 1 },
    })
    expect(changedRows(before, tableRows(store))).toEqual([
      'messages:msg_c2d1e81d5001PXnBTJiB65AI85',
      `parts:prt_c23d4afc6002JGXFVFXBOch2lk`,
    ])
    expect(
      count(
        store,
        "SELECT json_extract(data, '$.time.completed') FROM messages WHERE id = 'msg_c2d1e81d5001PXnBTJiB65AI85'",
      ),
    ).toBe(message.time.completed)
    const { hits } = await store.services.search.search({ text: 'zeppelin' })
    expect(hits.map((h) => h.refId)).toEqual(['prt_c23d4afc6002JGXFVFXBOch2lk'])
  })

  it('writes only the part whose row changed in opencode.db', async () => {
    const db = copyFixture('opencode.db')
    const store = await newStore()
    await importOpencode(store, { dir: db })
    const before = tableRows(store)
    const sqlite = new Sqlite(db)
    sqlite
      .prepare(
        "UPDATE part SET data = json_set(data, '$.text', 'Emit order is insertion order.') WHERE id = ?",
      )
      .run('prt_c23d4afc6002JGXFVFXBOch2lk')
    sqlite.close()
    const result = await importOpencode(store, { dir: db })
    expect(result.totals).toMatchObject({ updated: 1, unchanged: 2, parts: { updated: 1, unchanged: 133 } })
    expect(changedRows(before, tableRows(store))).toEqual(['parts:prt_c23d4afc6002JGXFVFXBOch2lk'])
  })

  it('reports malformed sessions of the JSON storage and imports the others', async () => {
    const storage = copyFixture('json-storage')
    const source = treeHashes(storage)
    // One session's message file is not JSON; another's message has a field of the wrong type.
    const broken = join(storage, 'storage/message', OTHER, 'msg_c2d1e9143001BgaN7LvPur7hQ5.json')
    writeFileSync(broken, readFileSync(broken, 'utf8').slice(0, 100))
    const wrong = join(storage, 'storage/message', CHILD, 'msg_c23d4b9a3001nKbp3ajSUgazXJ.json')
    writeFileSync(wrong, JSON.stringify({ ...JSON.parse(readFileSync(wrong, 'utf8')), role: 42 }, null, 2))
    const corrupted = treeHashes(storage)
    expect(Object.keys(corrupted)).toEqual(Object.keys(source))

    const store = await newStore()
    const result = await importOpencode(store, { dir: storage })
    expect(result.totals).toMatchObject({ sessions: 3, imported: 1, skipped: 2 })
    const skipped = new Map(
      result.sessions
        .filter((s): s is OpencodeSessionSkipped => s.outcome === 'skipped')
        .map((s) => [s.externalId, s.error]),
    )
    expect(skipped.get(OTHER)).toMatchObject({
      code: 'INVALID_INPUT',
      value: { sessionID: OTHER, messageID: 'msg_c2d1e9143001BgaN7LvPur7hQ5' },
    })
    expect(skipped.get(OTHER)?.message).toMatch(/msg_c2d1e9143001BgaN7LvPur7hQ5\.json is not valid JSON/)
    expect(skipped.get(CHILD)).toMatchObject({
      code: 'INVALID_INPUT',
      value: { sessionID: CHILD, messageID: 'msg_c23d4b9a3001nKbp3ajSUgazXJ' },
    })
    expect(skipped.get(CHILD)?.message).toMatch(/msg_c23d4b9a3001nKbp3ajSUgazXJ: role:/)
    // The good session is whole; nothing of the skipped ones was written.
    expect(count(store, "SELECT count(*) FROM sessions WHERE provider = 'opencode'")).toBe(1)
    expect(count(store, 'SELECT count(*) FROM messages')).toBe(20)
    expect(count(store, 'SELECT count(*) FROM parts')).toBe(71)
    expect(count(store, 'SELECT count(*) FROM cells')).toBe(1)
    expect(count(store, 'SELECT count(*) FROM workspaces')).toBe(1)
    expect(treeHashes(storage)).toEqual(corrupted)

    // Repaired, the two sessions come in; the first is left alone.
    rmSync(join(storage, 'storage'), { recursive: true })
    const repaired = copyFixture('json-storage')
    const again = await importOpencode(store, { dir: repaired })
    expect(again.totals).toMatchObject({ imported: 2, unchanged: 1, skipped: 0 })
    expectFixtureImported(store)
    expectFixtureMapping(store)
  })

  it('skips the sub-agent sessions of a session it skips', async () => {
    const storage = copyFixture('json-storage')
    const file = join(storage, 'storage/session/4f1c2a9e7d3b8c60a5e1f92d07b4c3a8e6d21f57', `${PARENT}.json`)
    writeFileSync(file, '{"id": ')
    const store = await newStore()
    const result = await importOpencode(store, { dir: storage })
    expect(result.totals).toMatchObject({ imported: 1, skipped: 2 })
    const child = result.sessions.find((s) => s.externalId === CHILD) as OpencodeSessionSkipped
    expect(child.outcome).toBe('skipped')
    expect(child.error.message).toMatch(/skipped with its parent session/)
    expect(count(store, "SELECT count(*) FROM sessions WHERE provider = 'opencode'")).toBe(1)
  })

  it('reports corrupt rows of opencode.db and imports the other sessions', async () => {
    const db = copyFixture('opencode.db')
    const sqlite = new Sqlite(db)
    sqlite
      .prepare('UPDATE message SET data = \'{"role": "user", \' WHERE id = ?')
      .run('msg_c2d1e9143001BgaN7LvPur7hQ5')
    sqlite
      .prepare("UPDATE part SET data = json_set(data, '$.type', 42) WHERE id = ?")
      .run('prt_c23d4b611001BzduM7tP2Df8ep')
    sqlite.close()
    const source = treeHashes(join(db, '..'))
    const store = await newStore()
    const result = await importOpencode(store, { dir: db })
    expect(result.totals).toMatchObject({ imported: 1, skipped: 2 })
    const errors = Object.fromEntries(
      result.sessions
        .filter((s): s is OpencodeSessionSkipped => s.outcome === 'skipped')
        .map((s) => [s.externalId, s.error.toJSON()]),
    )
    expect(errors[OTHER]).toMatchObject({
      code: 'INVALID_INPUT',
      value: { sessionID: OTHER, messageID: 'msg_c2d1e9143001BgaN7LvPur7hQ5' },
    })
    expect(errors[OTHER]?.message).toMatch(/data is not valid JSON/)
    expect(errors[CHILD]).toMatchObject({
      code: 'INVALID_INPUT',
      value: { sessionID: CHILD, partID: 'prt_c23d4b611001BzduM7tP2Df8ep' },
    })
    expect(count(store, 'SELECT count(*) FROM messages')).toBe(20)
    expect(count(store, 'SELECT count(*) FROM parts')).toBe(71)
    expect(treeHashes(join(db, '..'))).toEqual(source)
  })

  it('writes a session whole or not at all: a conflict half way leaves none of it', async () => {
    const store = await newStore()
    // Another session already holds a part id that the 10th message of OTHER uses.
    const workspace = await store.services.workspaces.create({ name: 'w', rootPath: '/w' })
    const cell = await store.services.cells.create({ workspaceId: workspace.id, name: 'c', type: 'manual' })
    const taken = JSON.parse(readFileSync(join(FIXTURES, 'sdk-messages', `${OTHER}.json`), 'utf8'))[9]
      .parts[0] as { id: string }
    await ingestOpencodeMessages(store, {
      cellId: cell.id,
      session: { id: 'ses_ffffffffffffAAAAAAAAAAAAAA', title: 'squatter', time: { created: 1 } },
      messages: [
        {
          info: { id: 'msg_000000000001AAAAAAAAAAAAAA', role: 'user', time: { created: 1 } },
          parts: [{ id: taken.id, messageID: 'msg_000000000001AAAAAAAAAAAAAA', type: 'text', text: 'mine' }],
        },
      ],
    })
    const result = await importOpencode(store, { dir: JSON_STORAGE })
    const other = result.sessions.find((s) => s.externalId === OTHER) as OpencodeSessionSkipped
    expect(other.outcome).toBe('skipped')
    expect(other.error.code).toBe('CONFLICT')
    expect(other.error.message).toContain(taken.id)
    expect(count(store, 'SELECT count(*) FROM sessions WHERE external_id = ?', OTHER)).toBe(0)
    // The first nine messages were written in the session's transaction, and rolled back with it.
    expect(
      count(store, "SELECT count(*) FROM messages WHERE json_extract(data, '$.sessionID') = ?", OTHER),
    ).toBe(0)
    expect(count(store, "SELECT count(*) FROM workspaces WHERE root_path = '/home/sam/code/confmerge'")).toBe(
      0,
    )
    expect(result.totals).toMatchObject({ imported: 2, skipped: 1 })
  })

  it('reads opencode.db while OpenCode has it open in WAL mode, writing nothing beside it', async () => {
    const db = copyFixture('opencode.db')
    const opencode = new Sqlite(db)
    opencode.pragma('journal_mode = WAL')
    opencode.pragma('wal_autocheckpoint = 0')
    // A change that lives only in the WAL so far.
    opencode
      .prepare("UPDATE part SET data = json_set(data, '$.text', 'Only in the write-ahead log.') WHERE id = ?")
      .run('prt_c23d4afc6002JGXFVFXBOch2lk')
    const files = readdirSync(join(db, '..')).sort()
    expect(files).toEqual(['opencode.db', 'opencode.db-shm', 'opencode.db-wal'])
    const hashes = treeHashes(join(db, '..'))
    try {
      const store = await newStore()
      const result = await importOpencode(store, { dir: join(db, '..') })
      expect(result.totals).toMatchObject({ imported: 3, skipped: 0 })
      expect(count(store, "SELECT count(*) FROM parts WHERE text = 'Only in the write-ahead log.'")).toBe(1)
      expect(readdirSync(join(db, '..')).sort()).toEqual(files)
      const after = treeHashes(join(db, '..'))
      expect(after['opencode.db']).toBe(hashes['opencode.db'])
      expect(after['opencode.db-wal']).toBe(hashes['opencode.db-wal'])
    } finally {
      opencode.close()
    }
  })

  it('leaves no -wal or -shm beside a WAL database that OpenCode closed', async () => {
    const db = copyFixture('opencode.db')
    const opencode = new Sqlite(db)
    opencode.pragma('journal_mode = WAL')
    opencode.close()
    expect(readdirSync(join(db, '..'))).toEqual(['opencode.db'])
    const store = await newStore()
    const scratch = tempDir()
    const result = await importOpencode(store, { dir: db, tempDir: scratch })
    expect(result.totals.imported).toBe(3)
    expect(readdirSync(join(db, '..'))).toEqual(['opencode.db'])
    // The private copy is gone too.
    expect(readdirSync(scratch)).toEqual([])
  })

  it('puts new cells in the workspace given, and top-level sessions in the cell given', async () => {
    const store = await newStore()
    const workspace = await store.services.workspaces.create({ name: 'mine', rootPath: '/home/me/mine' })
    const into = await importOpencode(store, { dir: JSON_STORAGE, workspaceId: workspace.id })
    expect(into.workspacesCreated).toEqual([])
    expect(count(store, 'SELECT count(*) FROM cells WHERE workspace_id = ?', workspace.id)).toBe(2)

    const other = await newStore()
    const w = await other.services.workspaces.create({ name: 'one', rootPath: '/one' })
    const cell = await other.services.cells.create({ workspaceId: w.id, name: 'All of it', type: 'manual' })
    const result = await importOpencode(other, { dir: OPENCODE_DB, cellId: cell.id })
    expect(result.cellsCreated).toEqual([])
    expect(count(other, 'SELECT count(*) FROM sessions WHERE cell_id = ?', cell.id)).toBe(3)
    expect(count(other, 'SELECT count(*) FROM sessions WHERE parent_session_id IS NOT NULL')).toBe(1)
    expect(count(other, 'SELECT count(*) FROM workspaces')).toBe(1)
  })

  it('refuses a missing directory, a directory without OpenCode data, and unknown targets, writing nothing', async () => {
    const store = await newStore()
    const hash = contentHash(store)
    const empty = tempDir()
    await expect(importOpencode(store, { dir: join(empty, 'nope') })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(importOpencode(store, { dir: empty })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/not an OpenCode data directory/),
    })
    writeFileSync(join(empty, 'opencode.db'), 'not a database at all, just text')
    await expect(importOpencode(store, { dir: empty })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(
      importOpencode(store, { dir: JSON_STORAGE, workspaceId: 'ws_00000000000000000000000000' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(
      importOpencode(store, { dir: JSON_STORAGE, cellId: 'cell_00000000000000000000000000' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(importOpencode(store, { dir: JSON_STORAGE, cellId: 'nope' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    expect(contentHash(store)).toBe(hash)
  })
})
