import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ids } from '@hive/schema'
import Sqlite from 'better-sqlite3'
import { type HiveStore, openHiveStore } from '../src/index.js'

/** What {@link seedStore} wrote, to compare with what a check or a recovery finds. */
export interface Seeded {
  readonly workspace: string
  readonly cells: readonly string[]
  readonly sessions: readonly string[]
  readonly artifacts: ReadonlyArray<{ readonly id: string; readonly hash: string }>
  /** Rows per table, counted after seeding. */
  readonly counts: Readonly<Record<string, number>>
}

const TABLES = [
  'workspaces',
  'cells',
  'sessions',
  'messages',
  'parts',
  'plans',
  'events',
  'artifacts',
  'blobs',
] as const

/** Rows of each table of a store's database. */
export function countRows(store: Pick<HiveStore, 'database'>): Record<string, number> {
  return Object.fromEntries(
    TABLES.map((table) => [
      table,
      store.database.sqlite.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number,
    ]),
  )
}

/**
 * A data directory with enough rows to fill a few hundred pages: cells with plans, sessions with
 * transcripts (searchable text), events and artifacts (one blob each).
 */
export async function seedStore(
  dataDir: string,
  options: { cells?: number; messages?: number } = {},
): Promise<Seeded> {
  const store = await openHiveStore({ dataDir, create: true, migrate: 'auto', cache: false })
  try {
    const { services } = store
    const workspace = await services.workspaces.create({ name: 'hive', rootPath: '/src/hive' })
    const cells: string[] = []
    const sessions: string[] = []
    const artifacts: Array<{ id: string; hash: string }> = []
    for (let c = 0; c < (options.cells ?? 6); c++) {
      const cell = await services.cells.create({
        workspaceId: workspace.id,
        name: `Cell ${c} fixes the login flow`,
        description: `Cell number ${c}: ${'the agent explains its reasoning at length. '.repeat(8)}`,
        type: 'implementation',
      })
      cells.push(cell.id)
      await services.plans.add({ cellId: cell.id, content: `Plan for cell ${c}\n${'- a step\n'.repeat(40)}` })
      const session = await services.sessions.create({
        cellId: cell.id,
        provider: 'opencode',
        mode: 'build',
        status: 'active',
      })
      sessions.push(session.id)
      for (let m = 0; m < (options.messages ?? 40); m++) {
        const message = ids.message()
        await services.transcripts.append(
          { cellId: cell.id, sessionId: session.id },
          {
            info: { id: message, role: m % 2 ? 'assistant' : 'user', time: { created: 1_000 + m } },
            parts: [
              {
                id: ids.part(),
                messageID: message,
                type: 'text',
                text: `message ${m} of cell ${c} mentions zebra${c}x${m} ${'and some filler words '.repeat(12)}`,
              },
            ],
          },
        )
      }
      for (let e = 0; e < 10; e++)
        await services.timeline.record({
          cellId: cell.id,
          type: 'cell.note',
          source: 'agent',
          payload: { n: e },
        })
      const artifact = await services.artifacts.put(
        { cellId: cell.id, type: 'log', name: `build-${c}.log` },
        Buffer.from(`build log of cell ${c}\n${'compiling module\n'.repeat(200 + c)}`),
      )
      artifacts.push({ id: artifact.id, hash: artifact.blobHash })
    }
    return { workspace: workspace.id, cells, sessions, artifacts, counts: countRows(store) }
  } finally {
    await store.close()
  }
}

/** The database's page size and page count, read from its header. */
export function pageInfo(path: string): { pageSize: number; pages: number } {
  const header = readFileSync(path).subarray(0, 100)
  const raw = header.readUInt16BE(16)
  const pageSize = raw === 1 ? 65536 : raw
  return { pageSize, pages: Math.floor(statSync(path).size / pageSize) }
}

/** Overwrites pages `from` to `to` (1-based, inclusive) with garbage. */
export function garblePages(path: string, from: number, to: number, byte = 0xa5): void {
  const { pageSize } = pageInfo(path)
  const fd = openSync(path, 'r+')
  try {
    const garbage = Buffer.alloc(pageSize, byte)
    for (let page = from; page <= to; page++) writeSync(fd, garbage, 0, pageSize, (page - 1) * pageSize)
  } finally {
    closeSync(fd)
  }
}

/** Cuts the file to its first `pages` pages. */
export function truncatePages(path: string, pages: number): void {
  const { pageSize } = pageInfo(path)
  writeFileSync(path, readFileSync(path).subarray(0, pages * pageSize))
}

/** The database file of a data directory. */
export const databaseOf = (dataDir: string) => join(dataDir, 'hive.db')

/** The file of a blob (compressed or raw). */
export function blobFileOf(dataDir: string, hash: string): string {
  const base = join(dataDir, 'blobs', 'sha256', hash.slice(0, 2), hash)
  return existsSync(`${base}.lz4`) ? `${base}.lz4` : base
}

/** Damages a blob file in place: same size, other bytes in the middle. */
export function corruptBlob(dataDir: string, hash: string): string {
  const path = blobFileOf(dataDir, hash)
  const bytes = readFileSync(path)
  for (let i = 8; i < Math.min(bytes.length - 40, 48); i++) bytes[i] = (bytes[i] as number) ^ 0x5a
  writeFileSync(path, bytes)
  return path
}

/** The leaf pages of a table or index (1-based page numbers), read before damaging them. */
export function leafPagesOf(path: string, name: string): number[] {
  const db = new Sqlite(path, { fileMustExist: true })
  try {
    return db
      .prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno")
      .pluck()
      .all(name) as number[]
  } finally {
    db.close()
  }
}

/** Rows on each leaf page of a table, by page number. */
export function cellsPerPage(path: string, name: string): Map<number, number> {
  const db = new Sqlite(path, { fileMustExist: true })
  try {
    const rows = db
      .prepare("SELECT pageno, ncell FROM dbstat WHERE name = ? AND pagetype = 'leaf'")
      .all(name) as Array<{ pageno: number; ncell: number }>
    return new Map(rows.map((row) => [row.pageno, row.ncell]))
  } finally {
    db.close()
  }
}

/** The overflow pages of a table (where rows too large for one page continue). */
export function overflowPagesOf(path: string, name: string): number[] {
  const db = new Sqlite(path, { fileMustExist: true })
  try {
    return db
      .prepare("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'overflow' ORDER BY pageno")
      .pluck()
      .all(name) as number[]
  } finally {
    db.close()
  }
}
