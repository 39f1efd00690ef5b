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
    const baseline = process.memoryUsage().heapUsed
    let peak = 0
    let seen = 0
    let bytes = 0
    for await (const chunk of transcripts.stream(w.session, { chunkSize: 500 })) {
      for (const message of chunk) {
        seen += 1
        bytes += JSON.stringify(message).length
      }
      peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
    }
    expect(seen).toBe(messages + 1) // and the world's own message
    // About 300 MB went through; the heap never held more than a sliver of it.
    expect(bytes).toBeGreaterThan(250 * 1024 * 1024)
    expect(peak).toBeLessThan(64 * 1024 * 1024)
  }, 120_000)
})
