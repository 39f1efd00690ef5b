import { utimesSync } from 'node:fs'
import { ids } from '@hive/schema'
import { tempDir } from '@hive/testing'
import { type HiveStore, openHiveStore } from '../src/index.js'

export const DAY = 24 * 60 * 60 * 1000
/** The scenario starts 45 days ago, so that commands run with the real clock agree with it. */
export const T0 = Date.now() - 45 * DAY

/** A store whose clock the test moves. */
export async function clockedStore(dataDir = tempDir()) {
  const clock = { now: T0 }
  const store = await openHiveStore({ dataDir, create: true, migrate: 'auto', now: () => clock.now })
  return { dataDir, store, clock }
}

/** Text that compresses like a build log, distinct per seed. */
export function logText(lines: number, seed: number): string {
  return Array.from(
    { length: lines },
    (_, i) => `${seed}:${i} compiling module-${(i * seed) % 97} ok in ${i % 13} ms`,
  ).join('\n')
}

export async function addSession(
  store: HiveStore,
  cellId: string,
  options: { messages?: number; parentSessionId?: string; bigOutput?: boolean; words?: string } = {},
) {
  const session = await store.services.sessions.create({
    cellId,
    provider: 'opencode',
    mode: 'build',
    status: 'completed',
    title: `session of ${cellId}`,
    ...(options.parentSessionId ? { parentSessionId: options.parentSessionId } : {}),
  })
  const ref = { cellId, sessionId: session.id }
  for (let i = 0; i < (options.messages ?? 3); i++) {
    const message = ids.message()
    const parts: Array<Record<string, unknown>> = [
      {
        id: ids.part(),
        messageID: message,
        type: 'text',
        text: `${options.words ?? 'ordinary'} words number ${i}`,
      },
    ]
    if (options.bigOutput && i === 0) {
      parts.push({
        id: ids.part(),
        messageID: message,
        type: 'tool',
        tool: 'bash',
        callID: `call-${i}`,
        state: {
          status: 'completed',
          input: { command: 'npm test' },
          output: logText(4000, i + 7), // ~200 KB: spilled to an artifact the part owns
          title: 'tests',
          metadata: {},
          time: { start: 1, end: 2 },
        },
      })
    }
    await store.services.transcripts.append(ref, {
      info: { id: message, role: i % 2 === 0 ? 'user' : 'assistant', time: { created: i + 1 } },
      parts,
    } as never)
  }
  return session
}

/** Sets a blob file's modification time (gc's grace period looks at it). */
export function ageBlobFile(path: string, ms: number): void {
  const when = (Date.now() - ms) / 1000
  utimesSync(path, when, when)
}

/** Moves a cell through its lifecycle to `completed`. */
export async function complete(store: HiveStore, cellId: string): Promise<void> {
  for (const status of ['provisioning', 'active', 'reviewing', 'completed'] as const)
    await store.services.cells.setStatus(cellId, status)
}

export function counts(store: HiveStore): Record<string, number> {
  const out: Record<string, number> = {}
  for (const table of ['cells', 'sessions', 'messages', 'parts', 'artifacts', 'blobs', 'events', 'search'])
    out[table] = store.database.sqlite.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number
  return out
}
