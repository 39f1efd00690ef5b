import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  demoOpencodeSessions,
  type HiveStore,
  ingestOpencodeMessages,
  type OpencodeMessage,
  type OpencodeSession,
} from '../src/index.js'
import {
  CHILD,
  contentHash,
  count,
  expectFixtureImported,
  FIXTURES,
  newStore,
  OTHER,
  PARENT,
  tableRows,
} from './opencode-helpers.js'

/** The fixture's SDK form: `session.get` objects and `session.messages` responses. */
function sdkFixture(): Array<{ session: OpencodeSession; messages: OpencodeMessage[] }> {
  const sessions = JSON.parse(readFileSync(join(FIXTURES, 'sdk-sessions.json'), 'utf8')) as OpencodeSession[]
  return sessions.map((session) => ({
    session,
    messages: JSON.parse(readFileSync(join(FIXTURES, 'sdk-messages', `${session.id}.json`), 'utf8')),
  }))
}

async function cellIn(store: HiveStore, name = 'Imported') {
  const workspace =
    (await store.services.workspaces.findByPath('/home/sam/code')) ??
    (await store.services.workspaces.create({ name: 'code', rootPath: '/home/sam/code' }))
  return store.services.cells.create({ workspaceId: workspace.id, name, type: 'implementation' })
}

describe('ingestOpencodeMessages', () => {
  it("ingests the SDK's { info, parts } messages with the fixture's exact counts, then nothing the second time", async () => {
    const store = await newStore()
    const cell = await cellIn(store)
    const ordered = sdkFixture().sort((a, b) => (a.session.parentID ? 1 : 0) - (b.session.parentID ? 1 : 0))
    for (const { session, messages } of ordered) {
      const result = await ingestOpencodeMessages(store, { cellId: cell.id, session, messages })
      expect(result).toMatchObject({ externalId: session.id, cellId: cell.id, outcome: 'imported' })
      expect(result.messages).toEqual({ added: messages.length, updated: 0, unchanged: 0 })
    }
    expectFixtureImported(store)
    const child = await store.services.sessions.findByExternalId('opencode', CHILD)
    const parent = await store.services.sessions.findByExternalId('opencode', PARENT)
    expect(child?.parentSessionId).toBe(parent?.id)
    expect(child?.data).toMatchObject({ parentID: PARENT, permission: expect.any(Array) })

    const hash = contentHash(store)
    for (const { session, messages } of ordered) {
      const again = await ingestOpencodeMessages(store, { cellId: cell.id, session, messages })
      expect(again.outcome).toBe('unchanged')
      expect(again.messages).toEqual({ added: 0, updated: 0, unchanged: messages.length })
    }
    expect(contentHash(store)).toBe(hash)
  })

  it('links a sub-agent session ingested before its parent once the parent comes', async () => {
    const store = await newStore()
    const cell = await cellIn(store)
    const byId = new Map(sdkFixture().map((s) => [s.session.id, s]))
    const child = await ingestOpencodeMessages(store, { cellId: cell.id, ...byId.get(CHILD)! })
    expect(child.parentSessionId).toBeNull()
    const parent = await ingestOpencodeMessages(store, { cellId: cell.id, ...byId.get(PARENT)! })
    expect((await store.services.sessions.get(child.sessionId)).parentSessionId).toBe(parent.sessionId)
  })

  it('takes new messages and changed parts of a session that goes on', async () => {
    const store = await newStore()
    const cell = await cellIn(store)
    const { session, messages } = sdkFixture().find((s) => s.session.id === OTHER)!
    await ingestOpencodeMessages(store, { cellId: cell.id, session, messages: messages.slice(0, 10) })
    const before = tableRows(store)
    const edited = structuredClone(messages)
    const part = edited
      .slice(1, 10)
      .flatMap((m) => m.parts)
      .find((p) => p.type === 'text') as unknown as { text: string }
    part.text = `${part.text} (edited)`
    const result = await ingestOpencodeMessages(store, { cellId: cell.id, session, messages: edited })
    expect(result).toMatchObject({
      outcome: 'updated',
      messages: { added: 5, updated: 1, unchanged: 9 },
      parts: { updated: 1 },
    })
    expect(count(store, 'SELECT count(*) FROM messages')).toBe(15)
    // Earlier messages keep their place; the new ones follow in order.
    const seqs = store.database.sqlite
      .prepare('SELECT id FROM messages ORDER BY seq')
      .pluck()
      .all() as string[]
    expect(seqs).toEqual(messages.map((m) => m.info.id))
    const after = tableRows(store)
    const old = new Map(before.parts!.map((p) => [p.id, JSON.stringify(p)]))
    const changed = after.parts!.filter((p) => old.has(p.id) && old.get(p.id) !== JSON.stringify(p))
    expect(changed.map((p) => p.id)).toEqual([(part as unknown as { id: string }).id])
  })

  it('rejects a malformed message naming it, and writes nothing', async () => {
    const store = await newStore()
    const cell = await cellIn(store)
    const hash = contentHash(store)
    const { session, messages } = sdkFixture().find((s) => s.session.id === OTHER)!
    const bad = structuredClone(messages)
    ;(bad[4]!.info as { time: unknown }).time = { created: 'yesterday' }
    const error = await ingestOpencodeMessages(store, { cellId: cell.id, session, messages: bad }).catch(
      (e) => e,
    )
    expect(error).toMatchObject({
      code: 'INVALID_INPUT',
      value: { sessionID: OTHER, messageID: bad[4]!.info.id },
    })
    expect(error.message).toContain(`message ${bad[4]!.info.id}: time.created:`)
    const misplaced = structuredClone(messages)
    ;(misplaced[2]!.parts[0] as { messageID: string }).messageID = misplaced[1]!.info.id
    await expect(
      ingestOpencodeMessages(store, { cellId: cell.id, session, messages: misplaced }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/its messageID is/) })
    await expect(
      ingestOpencodeMessages(store, { cellId: cell.id, session: { ...session, id: 'nope' }, messages }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(contentHash(store)).toBe(hash)
  })

  it('refuses an unknown cell, and a session stored in another cell', async () => {
    const store = await newStore()
    const { session, messages } = sdkFixture().find((s) => s.session.id === OTHER)!
    await expect(
      ingestOpencodeMessages(store, { cellId: 'cell_00000000000000000000000000', session, messages }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const first = await cellIn(store, 'first')
    const second = await cellIn(store, 'second')
    await ingestOpencodeMessages(store, { cellId: first.id, session, messages })
    await expect(
      ingestOpencodeMessages(store, { cellId: second.id, session, messages }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    expect(count(store, 'SELECT count(*) FROM sessions WHERE cell_id = ?', second.id)).toBe(0)
  })
})

describe('demoOpencodeSessions', () => {
  it('is deterministic from its seed', () => {
    expect(demoOpencodeSessions({ seed: 7 })).toEqual(demoOpencodeSessions({ seed: 7 }))
    expect(JSON.stringify(demoOpencodeSessions({ seed: 8 }))).not.toBe(
      JSON.stringify(demoOpencodeSessions({ seed: 7 })),
    )
    expect(demoOpencodeSessions({ sessions: 0 })).toEqual([])
    expect(() => demoOpencodeSessions({ sessions: 51 })).toThrow(RangeError)
  })

  it('makes OpenCode-shaped sessions: prompts, steps with tokens and cost, tools, a large output, a sub-agent', () => {
    const sessions = demoOpencodeSessions({ seed: 3, sessions: 5 })
    expect(sessions).toHaveLength(6)
    const [first] = sessions
    // The top-level sessions first, then the sub-agent session of the first.
    expect(sessions.slice(0, 5).every((s) => s.session.parentID === undefined)).toBe(true)
    expect(sessions[5]!.session.parentID).toBe(first!.session.id)
    expect(sessions[5]!.session.title).toMatch(/\(@explore subagent\)$/)
    const parts = sessions.flatMap((s) => s.messages.flatMap((m) => m.parts))
    const types = new Set(parts.map((p) => p.type))
    expect([...types].sort()).toEqual(['patch', 'reasoning', 'step-finish', 'step-start', 'text', 'tool'])
    const tools = new Set(parts.filter((p) => p.type === 'tool').map((p) => p.tool))
    expect([...tools].sort()).toEqual(['bash', 'edit', 'grep', 'read', 'task'])
    const task = parts.find((p) => p.tool === 'task') as unknown as {
      state: { metadata: { sessionId: string } }
    }
    expect(task.state.metadata.sessionId).toBe(sessions[5]!.session.id)
    const edits = parts.filter((p) => p.tool === 'edit') as unknown as Array<{
      state: { metadata: { diff: string; filediff: { before: string; after: string } } }
    }>
    for (const edit of edits) {
      expect(edit.state.metadata.filediff.after).not.toBe(edit.state.metadata.filediff.before)
      expect(edit.state.metadata.diff).toMatch(/^@@ -\d+,\d+ \+\d+,\d+ @@$/m)
    }
    const outputs = parts
      .filter((p) => p.type === 'tool')
      .map((p) => Buffer.byteLength((p as unknown as { state: { output: string } }).state.output))
    expect(outputs.filter((bytes) => bytes > 64 * 1024)).toHaveLength(1)
    for (const { session, messages } of sessions) {
      const ids = messages.map((m) => m.info.id)
      expect(ids).toEqual([...ids].sort())
      for (const m of messages) {
        expect(m.parts.map((p) => p.id)).toEqual(m.parts.map((p) => p.id).sort())
        expect(m.parts.every((p) => p.messageID === m.info.id && p.sessionID === session.id)).toBe(true)
        if (m.info.role === 'assistant') {
          expect(m.parts[0]?.type).toBe('step-start')
          const finish = m.parts.find((p) => p.type === 'step-finish') as unknown as {
            cost: number
            tokens: unknown
          }
          expect(finish.cost).toBeGreaterThan(0)
          expect(m.info.cost).toBe(finish.cost)
          expect(m.info.tokens).toEqual(finish.tokens)
        }
      }
    }
    // Sessions sort newest first by id, as OpenCode's do.
    const top = sessions.slice(0, 5).map((s) => s.session.id)
    expect(top).toEqual([...top].sort().reverse())
  })

  it('ingests: every session is imported, the large output spills to a blob, and search finds the words', async () => {
    const store = await newStore()
    const cell = await cellIn(store, 'Demo')
    const sessions = demoOpencodeSessions({ seed: 11 })
    for (const { session, messages } of sessions) {
      const result = await ingestOpencodeMessages(store, { cellId: cell.id, session, messages })
      expect(result.outcome).toBe('imported')
    }
    expect(count(store, 'SELECT count(*) FROM sessions')).toBe(4)
    expect(count(store, 'SELECT count(*) FROM sessions WHERE parent_session_id IS NOT NULL')).toBe(1)
    expect(count(store, "SELECT count(*) FROM parts WHERE artifact_id IS NOT NULL AND type = 'tool'")).toBe(1)
    expect(
      count(store, "SELECT count(*) FROM artifacts WHERE type = 'log' AND name LIKE 'bash output%'"),
    ).toBe(1)
    const prompt = sessions[0]!.messages[0]!.parts[0] as unknown as { text: string }
    const word = prompt.text.split(/\W+/).find((w) => w.length > 6)!
    const { hits } = await store.services.search.search({ text: word })
    expect(hits.length).toBeGreaterThan(0)
    expect(hits.every((h) => h.cellId === cell.id)).toBe(true)
    // Again: unchanged, the spilled output compared through its blob.
    const hash = contentHash(store)
    for (const { session, messages } of sessions) {
      expect((await ingestOpencodeMessages(store, { cellId: cell.id, session, messages })).outcome).toBe(
        'unchanged',
      )
    }
    expect(contentHash(store)).toBe(hash)
  })
})
