import { ids } from '@hive/schema'
import { describe, expect, it } from 'vitest'
import { TranscriptService } from '../src/index.js'
import { world } from './helpers.js'
import { ingestFixtures, readJsonStorage } from './opencode-fixture.js'

describe('TranscriptService with OpenCode’s own data', () => {
  it('ingests the fixture sessions with exactly the counts its README lists', async () => {
    const { w, transcripts, byExternal } = await ingestFixtures()
    const count = (sql: string, ...args: unknown[]) =>
      w.sqlite
        .prepare(sql)
        .pluck()
        .get(...args)
    expect(count('SELECT count(*) FROM sessions WHERE external_id IS NOT NULL')).toBe(3)
    // (The test world has one message of its own, in a session without an external id.)
    const ingested = 'session_id IN (SELECT id FROM sessions WHERE external_id IS NOT NULL)'
    expect(count(`SELECT count(*) FROM messages WHERE ${ingested}`)).toBe(40)
    expect(count(`SELECT count(*) FROM messages WHERE role = 'user' AND ${ingested}`)).toBe(8)
    expect(count(`SELECT count(*) FROM messages WHERE role = 'assistant' AND ${ingested}`)).toBe(32)
    expect(count('SELECT count(*) FROM parts')).toBe(134)

    const expected: Record<
      string,
      { messages: number; parts: number; types: Record<string, number>; cost: number }
    > = {
      ses_3dc2dae3fffej8ZUqcYmE0lMvl: {
        messages: 20,
        parts: 71,
        types: { text: 16, tool: 16, 'step-start': 16, 'step-finish': 16, patch: 5, file: 1, agent: 1 },
        cost: 0.2237247,
      },
      ses_3dc2b5725ffettlMUkNvfTPIi2: {
        messages: 5,
        parts: 15,
        types: { text: 3, tool: 4, 'step-start': 4, 'step-finish': 4 },
        cost: 0.0548745,
      },
      ses_3d2e19fceffeXhEI3l6FcrnrKl: {
        messages: 15,
        parts: 48,
        types: { text: 6, reasoning: 5, tool: 11, 'step-start': 12, 'step-finish': 11, patch: 2, file: 1 },
        cost: 0.05312125,
      },
    }
    for (const [external, want] of Object.entries(expected)) {
      const ref = byExternal.get(external)!
      const messages = []
      for await (const chunk of transcripts.stream(ref.sessionId, { chunkSize: 7 })) messages.push(...chunk)
      expect(messages).toHaveLength(want.messages)
      expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => i))
      const parts = messages.flatMap((m) => m.parts)
      expect(parts).toHaveLength(want.parts)
      const types: Record<string, number> = {}
      for (const part of parts) types[part.type] = (types[part.type] ?? 0) + 1
      expect(types).toEqual(want.types)
      expect(messages.reduce((sum, m) => sum + m.cost, 0)).toBeCloseTo(want.cost, 9)
      // OpenCode's ordering carries over: messages and parts by id.
      expect(messages.map((m) => m.id)).toEqual([...messages.map((m) => m.id)].sort())
      for (const m of messages) expect(m.parts.map((p) => p.id)).toEqual([...m.parts.map((p) => p.id)].sort())
    }
    // Tool results: 15 + 4 + 9 completed, 1 + 0 + 2 errors.
    expect(
      count(
        "SELECT count(*) FROM parts WHERE type = 'tool' AND json_extract(data, '$.state.status') = 'completed'",
      ),
    ).toBe(28)
    expect(
      count(
        "SELECT count(*) FROM parts WHERE type = 'tool' AND json_extract(data, '$.state.status') = 'error'",
      ),
    ).toBe(3)

    const aborted = await transcripts.getMessage('msg_c2d2077ee0012jsHR8qcEsWNOE')
    expect(aborted.state).toBe('error')
    expect(aborted.error).toMatchObject({ name: 'MessageAbortedError' })
    expect(aborted.parts.map((p) => p.type)).toEqual(['step-start', 'reasoning', 'tool'])
    expect(aborted.tokens).toEqual({ input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0 })
    // Nothing of the objects is lost: the stored info is OpenCode's object, field for field.
    const fixture = readJsonStorage()
    const original = fixture
      .flatMap((s) => s.messages)
      .find((m) => m.info.id === 'msg_c2d2077ee0012jsHR8qcEsWNOE')!
    expect(aborted.info).toEqual(original.info)
    expect(aborted.parts.map((p) => p.data)).toEqual(original.parts)
  })

  it('pages, tails and centres on a message, in both directions', async () => {
    const { transcripts, byExternal } = await ingestFixtures()
    const ref = byExternal.get('ses_3dc2dae3fffej8ZUqcYmE0lMvl')!
    const first = await transcripts.page(ref.sessionId, { limit: 6 })
    expect(first.messages.map((m) => m.seq)).toEqual([0, 1, 2, 3, 4, 5])
    expect(first.previous).toBeNull()
    const second = await transcripts.page(ref.sessionId, { after: first.next!, limit: 6 })
    expect(second.messages.map((m) => m.seq)).toEqual([6, 7, 8, 9, 10, 11])
    const back = await transcripts.page(ref.sessionId, { before: second.previous!, limit: 4 })
    expect(back.messages.map((m) => m.seq)).toEqual([2, 3, 4, 5])
    const tail = await transcripts.tail(ref.sessionId, 3)
    expect(tail.messages.map((m) => m.seq)).toEqual([17, 18, 19])
    expect(tail.next).toBeNull()
    // Before the page's last message (seq 1): only seq 0, and nothing before it.
    const start = await transcripts.page(ref.sessionId, {
      before: (await transcripts.page(ref.sessionId, { limit: 2 })).next!,
      limit: 10,
    })
    expect(start.messages.map((m) => m.seq)).toEqual([0])
    expect(start.previous).toBeNull()
    const around = await transcripts.around(tail.messages[0]!.id, 2)
    expect(around.messages.map((m) => m.seq)).toEqual([15, 16, 17, 18, 19])
    expect(around.next).toBeNull()
    // Each message carries its parts, in order.
    expect(second.messages.every((m) => m.parts.every((p) => p.messageId === m.id))).toBe(true)
    expect(JSON.parse(JSON.stringify(second.messages[0])).info.id).toBe(second.messages[0]!.id)
  })
})

describe.each([
  ['Kysely transactions', false],
  ['synchronous transactions', true],
])('TranscriptService while a message streams (%s)', (_label, sync) => {
  it('keeps a part written again and again as one row, and the message at its seq', async () => {
    const w = await world()
    const transcripts = new TranscriptService({
      db: w.db,
      content: w.blobs,
      ...(sync ? { writer: w.database } : {}),
    })
    const ref = { cellId: w.cell, sessionId: w.session }
    const message = ids.message()
    const info = { id: message, role: 'assistant' as const, time: { created: 1000 } }
    await transcripts.upsertMessage(ref, info)
    const part = ids.part()
    for (let i = 1; i <= 50; i++) {
      await transcripts.upsertPart(ref, {
        id: part,
        messageID: message,
        type: 'text',
        text: 'word '.repeat(i),
      })
    }
    await transcripts.upsertPart(ref, {
      id: ids.part(),
      messageID: message,
      type: 'step-finish',
      reason: 'stop',
    })
    await transcripts.upsertMessage(ref, { ...info, time: { created: 1000, completed: 2000 }, cost: 0.5 })
    const read = await transcripts.getMessage(message)
    expect(read.seq).toBe(1) // the world's message came first
    expect(read.state).toBe('completed')
    expect(read.cost).toBe(0.5)
    expect(read.parts.map((p) => [p.seq, p.type])).toEqual([
      [0, 'text'],
      [1, 'step-finish'],
    ])
    expect((read.parts[0]!.data as { text: string }).text).toBe('word '.repeat(50))
    // The search index holds the last version only.
    expect(w.sqlite.prepare('SELECT count(*) FROM search WHERE ref_id = ?').pluck().get(part)).toBe(1)
  })

  it('moves a tool output over the limit to an artifact, keeping a preview and the reference', async () => {
    const w = await world()
    const transcripts = new TranscriptService({
      db: w.db,
      content: w.blobs,
      spillBytes: 64 * 1024,
      ...(sync ? { writer: w.database } : {}),
    })
    const ref = { cellId: w.cell, sessionId: w.session }
    const message = ids.message()
    await transcripts.upsertMessage(ref, { id: message, role: 'assistant', time: { created: 1 } })
    const output = 'npm test output line\n'.repeat(10_000) // ~210 KB
    const part = ids.part()
    await transcripts.upsertPart(ref, {
      id: part,
      messageID: message,
      type: 'tool',
      tool: 'bash',
      callID: 'c1',
      state: {
        status: 'completed',
        input: { command: 'npm test' },
        output,
        title: 'tests',
        metadata: {},
        time: { start: 5, end: 6 },
      },
    })
    const read = (await transcripts.getMessage(message)).parts[0]!
    expect(read.artifactId).toMatch(/^art_/)
    const inline = (read.data as { state: { output: string } }).state.output
    expect(inline.length).toBeLessThan(5000)
    expect(inline).toContain(read.artifactId)
    expect(output.startsWith(inline.split('\n…')[0]!)).toBe(true)
    const artifact = w.sqlite
      .prepare('SELECT blob_hash, size, message_id, cell_id FROM artifacts WHERE id = ?')
      .get(read.artifactId) as {
      blob_hash: string
      size: number
      message_id: string
      cell_id: string
    }
    expect(artifact).toMatchObject({ size: Buffer.byteLength(output), message_id: message, cell_id: w.cell })
    expect((await (await w.blobs.open(artifact.blob_hash)).buffer()).toString()).toBe(output)
  })

  it('moves any oversized string of any part out, and gives the part back exactly as written', async () => {
    const w = await world()
    const transcripts = new TranscriptService({
      db: w.db,
      content: w.blobs,
      ...(sync ? { writer: w.database } : {}),
    })
    const ref = { cellId: w.cell, sessionId: w.session }
    const message = ids.message()
    const screenshot = `data:image/png;base64,${Buffer.alloc(900 * 1024, 7).toString('base64')}` // 1.2 MB
    const parts = [
      // A pasted screenshot.
      {
        id: ids.part(),
        messageID: message,
        type: 'file',
        mime: 'image/png',
        filename: 'shot.png',
        url: screenshot,
      },
      // A write tool: the file's content in its input, a running command's output in metadata.
      {
        id: ids.part(),
        messageID: message,
        type: 'tool',
        tool: 'write',
        callID: 'c2',
        state: {
          status: 'completed',
          input: { filePath: '/src/big.ts', content: 'export const x = 1\n'.repeat(70_000) },
          output: '',
          title: 'src/big.ts',
          metadata: { output: 'progress…\n'.repeat(20_000) },
          time: { start: 5, end: 6 },
        },
      },
      // Many strings each under the spill size, together over the object limit: 20 × 60 KB.
      {
        id: ids.part(),
        messageID: message,
        type: 'patch',
        hash: 'abc',
        files: Array.from({ length: 20 }, (_, i) => `${'é'.repeat(30 * 1024)}${i}`),
      },
    ]
    await transcripts.append(ref, { info: { id: message, role: 'user', time: { created: 1 } }, parts })
    const read = await transcripts.getMessage(message)
    expect(read.parts).toHaveLength(3)
    for (const [i, part] of read.parts.entries()) {
      expect(part.artifactId, `part ${i}`).toMatch(/^art_/)
      expect(JSON.stringify(part.data).length).toBeLessThan(1024 * 1024)
      expect(await transcripts.originalPart(part.id)).toEqual(parts[i])
    }
    // The screenshot's preview names its artifact; the artifact holds the part as JSON.
    expect((read.parts[0]!.data as { url: string }).url).toContain(`in artifact ${read.parts[0]!.artifactId}`)
    const types = w.sqlite.prepare('SELECT content_type FROM artifacts ORDER BY name').pluck().all()
    expect(types).toEqual(['application/json', 'application/json', 'application/json'])
  })

  it('keeps a spilled artifact and its id when the same output is written again, and drops it when the output is gone', async () => {
    const w = await world()
    const transcripts = new TranscriptService({
      db: w.db,
      content: w.blobs,
      ...(sync ? { writer: w.database } : {}),
    })
    const ref = { cellId: w.cell, sessionId: w.session }
    const message = ids.message()
    await transcripts.upsertMessage(ref, { id: message, role: 'assistant', time: { created: 1 } })
    const id = ids.part()
    const tool = (output: string) => ({
      id,
      messageID: message,
      type: 'tool',
      tool: 'bash',
      callID: 'c1',
      state: {
        status: 'completed',
        input: {},
        output,
        title: 'build',
        metadata: {},
        time: { start: 1, end: 2 },
      },
    })
    const count = () => w.sqlite.prepare('SELECT count(*) FROM artifacts').pluck().get()
    const big = 'x'.repeat(100_000)
    await transcripts.upsertPart(ref, tool(big))
    const first = (await transcripts.getMessage(message)).parts[0]?.artifactId
    await transcripts.upsertPart(ref, tool(big))
    expect((await transcripts.getMessage(message)).parts[0]?.artifactId).toBe(first)
    expect(count()).toBe(1)
    // Another large output: a new artifact replaces the old one.
    await transcripts.upsertPart(ref, tool('y'.repeat(100_000)))
    const second = (await transcripts.getMessage(message)).parts[0]?.artifactId
    expect(second).not.toBe(first)
    expect(w.sqlite.prepare('SELECT id FROM artifacts').pluck().all()).toEqual([second])
    // A small output: no artifact left behind, and none in the search index.
    await transcripts.upsertPart(ref, tool('ok'))
    expect((await transcripts.getMessage(message)).parts[0]?.artifactId).toBeNull()
    expect(count()).toBe(0)
    expect(w.sqlite.prepare("SELECT count(*) FROM search WHERE kind = 'artifact'").pluck().get()).toBe(0)
    expect(await transcripts.originalPart(id)).toEqual(tool('ok'))
  })

  it("moves a message's oversized strings out too, keeps one artifact per message, and drops it with the message", async () => {
    const w = await world()
    const transcripts = new TranscriptService({
      db: w.db,
      content: w.blobs,
      ...(sync ? { writer: w.database } : {}),
    })
    const ref = { cellId: w.cell, sessionId: w.session }
    const id = ids.message()
    // A user message whose summary carries whole files before and after the change.
    const info = {
      id,
      role: 'user' as const,
      time: { created: 1 },
      summary: {
        title: 'Refactor',
        diffs: [
          {
            file: 'src/big.ts',
            before: 'a\n'.repeat(300_000),
            after: 'b\n'.repeat(300_000),
            additions: 1,
            deletions: 1,
          },
        ],
      },
    }
    await transcripts.upsertMessage(ref, info)
    const read = await transcripts.getMessage(id)
    expect(read.artifactId).toMatch(/^art_/)
    expect(JSON.stringify(read.info).length).toBeLessThan(64 * 1024)
    expect(await transcripts.originalMessage(id)).toEqual(info)
    // The same again: the same artifact. Smaller: none.
    await transcripts.upsertMessage(ref, info)
    expect((await transcripts.getMessage(id)).artifactId).toBe(read.artifactId)
    const count = () => w.sqlite.prepare('SELECT count(*) FROM artifacts').pluck().get()
    expect(count()).toBe(1)
    const small = { ...info, summary: { title: 'Refactor' } }
    await transcripts.upsertMessage(ref, small)
    expect((await transcripts.getMessage(id)).artifactId).toBeNull()
    expect(count()).toBe(0)
    expect(await transcripts.originalMessage(id)).toEqual(small)
    // Large again, then the message is deleted: its artifact goes with it.
    await transcripts.upsertMessage(ref, info)
    expect(count()).toBe(1)
    w.sqlite.prepare('DELETE FROM messages WHERE id = ?').run(id)
    expect(count()).toBe(0)
  })

  it('writes no content for a part it cannot write', async () => {
    const w = await world()
    const transcripts = new TranscriptService({
      db: w.db,
      content: w.blobs,
      ...(sync ? { writer: w.database } : {}),
    })
    const message = ids.message()
    const part = { id: ids.part(), messageID: message, type: 'text', text: 'z'.repeat(200_000) }
    await expect(
      transcripts.append(
        { cellId: w.cell, sessionId: ids.session() },
        { info: { id: message, role: 'user', time: { created: 1 } }, parts: [part] },
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect((await w.blobs.stats()).count).toBe(0)
  })
})

describe.each([
  ['Kysely transactions', false],
  ['synchronous transactions', true],
])('TranscriptService with bad input (%s)', (_label, sync) => {
  it('refuses writes to unknown sessions, sessions of another cell, and messages of another session, writing nothing', async () => {
    const w = await world()
    const transcripts = new TranscriptService({ db: w.db, ...(sync ? { writer: w.database } : {}) })
    const before = w.sqlite
      .prepare('SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM parts)')
      .pluck()
      .get()
    const message = { id: ids.message(), role: 'user' as const, time: { created: 1 } }
    await expect(
      transcripts.append({ cellId: w.cell, sessionId: ids.session() }, { info: message }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(
      transcripts.append({ cellId: w.otherCell, sessionId: w.session }, { info: message }),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
    await expect(
      transcripts.upsertPart(
        { cellId: w.otherCell, sessionId: w.otherSession },
        { id: ids.part(), messageID: w.message, type: 'text', text: 'x' },
      ),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
    await expect(
      transcripts.upsertPart(
        { cellId: w.cell, sessionId: w.session },
        { id: ids.part(), messageID: ids.message(), type: 'text', text: 'x' },
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
    // The same message id again, for another session.
    await expect(
      transcripts.append(
        { cellId: w.otherCell, sessionId: w.otherSession },
        { info: { id: w.message, role: 'user', time: { created: 1 } } },
      ),
    ).rejects.toMatchObject({ code: 'CONFLICT' })
    expect(
      w.sqlite.prepare('SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM parts)').pluck().get(),
    ).toBe(before)
  })

  it('rejects malformed messages, parts, cursors, limits and oversized objects, all or nothing', async () => {
    const w = await world()
    const transcripts = new TranscriptService({ db: w.db, ...(sync ? { writer: w.database } : {}) })
    const ref = { cellId: w.cell, sessionId: w.session }
    const id = ids.message()
    const bad = [
      { info: { id: 'not-an-id', role: 'user', time: { created: 1 } } },
      { info: { id, role: 'robot', time: { created: 1 } } },
      { info: { id, role: 'user', time: { created: -5 } } },
      {
        info: { id, role: 'user', time: { created: 1 } },
        parts: [{ id: ids.part(), messageID: ids.message(), type: 'text' }],
      },
      {
        info: { id, role: 'user', time: { created: 1 } },
        parts: [{ id: ids.part(), messageID: id, type: 'Text!' }],
      },
      {
        info: { id, role: 'user', time: { created: 1 } },
        parts: [{ id: ids.part(), messageID: id, type: 'text', text: 'x'.repeat(2 * 1024 * 1024) }],
      },
    ]
    for (const input of bad)
      await expect(transcripts.append(ref, input as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    // A valid part after an oversized one in the same message: nothing of it is written.
    await expect(
      transcripts.append(ref, {
        info: { id, role: 'user', time: { created: 1 } },
        parts: [
          { id: ids.part(), messageID: id, type: 'text', text: 'fine' },
          { id: ids.part(), messageID: id, type: 'text', text: 'y'.repeat(2 * 1024 * 1024) },
        ],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(w.sqlite.prepare('SELECT count(*) FROM messages WHERE id = ?').pluck().get(id)).toBe(0)
    for (const query of [
      { limit: 0 },
      { limit: 1001 },
      { after: 'garbage!' },
      { after: 'eyJ2IjoxLCJrIjpbIngiXX0' },
      { after: 'a', before: 'b' },
    ]) {
      await expect(transcripts.page(w.session, query as never)).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      })
    }
    await expect(transcripts.page('ses_bad id')).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(transcripts.getMessage(ids.message())).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(transcripts.around(ids.message())).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})
