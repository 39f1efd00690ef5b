import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The shared OpenCode fixtures (../shared/fixtures/opencode beside the repository). */
export const FIXTURES =
  process.env.HIVE_FIXTURES ??
  join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'fixtures', 'opencode')

export interface FixtureSession {
  readonly session: Record<string, unknown> & {
    id: string
    title: string
    parentID?: string
    projectID: string
  }
  readonly messages: Array<{
    info: Record<string, unknown> & { id: string; role: string }
    parts: Array<Record<string, unknown> & { id: string; messageID: string; type: string }>
  }>
}

/** Reads OpenCode 1.1's JSON storage: sessions, their messages and parts, in id order. */
export function readJsonStorage(): FixtureSession[] {
  const storage = join(FIXTURES, 'json-storage', 'storage')
  if (!existsSync(storage)) throw new Error(`OpenCode fixtures not found at ${storage} (set HIVE_FIXTURES)`)
  const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'))
  const sessions: FixtureSession[] = []
  for (const project of readdirSync(join(storage, 'session')).sort()) {
    for (const file of readdirSync(join(storage, 'session', project)).sort()) {
      const session = json(join(storage, 'session', project, file))
      const messageDir = join(storage, 'message', session.id)
      const messages = readdirSync(messageDir)
        .sort()
        .map((name) => {
          const info = json(join(messageDir, name))
          const partDir = join(storage, 'part', info.id)
          const parts = existsSync(partDir)
            ? readdirSync(partDir)
                .sort()
                .map((p) => json(join(partDir, p)))
            : []
          return { info, parts }
        })
      sessions.push({ session, messages })
    }
  }
  return sessions
}
