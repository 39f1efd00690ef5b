import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { ids } from '@hive/schema'
import { describe, expect, it } from 'vitest'
import { TranscriptService } from '../src/index.js'
import { world } from './helpers.js'

describe('TranscriptService.stream', () => {
  it('iterates a 200k-message session with small heap growth', async () => {
    const w = await world()
    const messages = 200_000
    const info = JSON.stringify({ role: 'assistant', note: 'x'.repeat(300) })
    const part = JSON.stringify({ type: 'step-finish', reason: 'tool-calls', detail: 'y'.repeat(1000) })
    const insertMessage = w.sqlite.prepare(
      "INSERT INTO messages (id, session_id, seq, role, state, data, created_at, updated_at) VALUES (?, ?, ?, 'assistant', 'completed', ?, ?, ?)",
    )
    const insertPart = w.sqlite.prepare(
      "INSERT INTO parts (id, message_id, seq, type, data, created_at, updated_at) VALUES (?, ?, 0, 'step-finish', ?, ?, ?)",
    )
    w.database.transaction(() => {
      for (let i = 1; i <= messages; i++) {
        const id = ids.message()
        insertMessage.run(id, w.session, i, info, i, i)
        insertPart.run(ids.part(), id, part, i, i)
      }
    })
    const transcripts = new TranscriptService({ db: w.db })
    // What the stream keeps alive, not when the collector happens to run (it runs late on a busy
    // machine): the heap after a full collection, measured along the way.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const retained = () => {
      gc()
      return process.memoryUsage().heapUsed
    }
    const baseline = retained()
    let peak = 0
    let seen = 0
    let bytes = 0
    let chunks = 0
    for await (const chunk of transcripts.stream(w.session, { chunkSize: 500 })) {
      for (const message of chunk) {
        seen += 1
        bytes += JSON.stringify(message).length
      }
      if (++chunks % 40 === 0) peak = Math.max(peak, retained() - baseline)
    }
    expect(seen).toBe(messages + 1) // and the world's own message
    // About 300 MB went through; the heap never kept more than a sliver of it.
    expect(chunks).toBeGreaterThan(400)
    expect(bytes).toBeGreaterThan(250 * 1024 * 1024)
    expect(peak).toBeLessThan(32 * 1024 * 1024)
  }, 120_000)
})
