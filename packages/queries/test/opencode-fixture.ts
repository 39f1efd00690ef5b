import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  CellService,
  type QueryServices,
  SessionService,
  TranscriptService,
  WorkspaceService,
} from '../src/index.js'
import { type World, world } from './helpers.js'

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

/**
 * A test world with the fixture sessions ingested through the query services (by default on the
 * world's database alone; pass `services` to ingest through others, e.g. composed ones).
 */
export async function ingestFixtures(
  given?: (w: World) => Pick<QueryServices, 'workspaces' | 'cells' | 'sessions' | 'transcripts'>,
) {
  const w = await world()
  const { workspaces, cells, sessions, transcripts } = given?.(w) ?? {
    workspaces: new WorkspaceService({ db: w.db }),
    cells: new CellService({ db: w.db }),
    sessions: new SessionService({ db: w.db }),
    transcripts: new TranscriptService({ db: w.db, content: w.blobs }),
  }
  const fixture = readJsonStorage()
  const byExternal = new Map<string, { cellId: string; sessionId: string }>()
  // Parents first, so a child session can name its parent.
  for (const { session, messages } of [...fixture].sort(
    (a, b) => (a.session.parentID ? 1 : 0) - (b.session.parentID ? 1 : 0),
  )) {
    let workspace = await workspaces.findByPath(`/projects/${session.projectID}`)
    workspace ??= await workspaces.create({
      name: session.projectID.slice(0, 8),
      rootPath: `/projects/${session.projectID}`,
    })
    const parent = session.parentID ? byExternal.get(session.parentID) : undefined
    const cellId =
      parent?.cellId ??
      (await cells.create({ workspaceId: workspace.id, name: session.title, type: 'implementation' })).id
    const created = await sessions.create({
      cellId,
      provider: 'opencode',
      externalId: session.id,
      title: session.title,
      ...(parent ? { parentSessionId: parent.sessionId } : {}),
      data: session as never,
    })
    const ref = { cellId, sessionId: created.id }
    byExternal.set(session.id, ref)
    for (const message of messages) await transcripts.append(ref, message as never)
  }
  return { w, transcripts, sessions, byExternal, fixture }
}
