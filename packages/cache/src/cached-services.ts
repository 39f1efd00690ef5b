import { parseInput } from '@hive/errors'
import type { QueryServices, TranscriptPage } from '@hive/queries'
import { z } from 'zod'
import { BoundedCache, type CacheNamespaceStats, limitsSchema } from './bounded-cache.js'
import { CommitWatch, type WatchedDatabase } from './commit-watch.js'
import { keyOf } from './keys.js'

type Cell = Awaited<ReturnType<QueryServices['cells']['get']>>
type CellPage = Awaited<ReturnType<QueryServices['cells']['list']>>
type Artifact = Awaited<ReturnType<QueryServices['artifacts']['get']>>

const MiB = 2 ** 20
const optionsSchema = z
  .object({
    /** Cells by id. */
    cells: limitsSchema.partial().default({}),
    /** First pages of cell lists, per filter. */
    cellLists: limitsSchema.partial().default({}),
    /** Transcript tails, per session and count. */
    transcriptTails: limitsSchema.partial().default({}),
    /** Artifacts' metadata by id. */
    artifacts: limitsSchema.partial().default({}),
  })
  .strict()

export type CacheOptions = z.input<typeof optionsSchema>

const DEFAULTS = {
  cells: { maxEntries: 10_000, maxBytes: 16 * MiB, ttlMs: 0 },
  cellLists: { maxEntries: 500, maxBytes: 16 * MiB, ttlMs: 0 },
  transcriptTails: { maxEntries: 200, maxBytes: 64 * MiB, ttlMs: 0 },
  artifacts: { maxEntries: 10_000, maxBytes: 16 * MiB, ttlMs: 0 },
} as const

export interface CacheStats {
  readonly cells: CacheNamespaceStats
  readonly cellLists: CacheNamespaceStats
  readonly transcriptTails: CacheNamespaceStats
  readonly artifacts: CacheNamespaceStats
  /** Commits by other connections noticed (each one empties the caches). */
  readonly foreignCommits: number
  /** Exact `data_version` checks made (the rest were settled by the WAL-index header). */
  readonly versionChecks: number
}

export interface HiveCache {
  /** The services, with the same interface, cached. */
  readonly services: QueryServices
  stats(): CacheStats
  /**
   * Empties every cache. Needed only after writes that bypass the services on this process's
   * own connection (other connections' commits are noticed by themselves).
   */
  invalidateAll(): void
  /** Stops watching the database; the services go on uncached. */
  close(): void
}

/**
 * Caches in front of the query services: cells by id and the first pages of cell lists,
 * transcript tails and artifacts' metadata, each bounded in entries and bytes, with an optional
 * TTL. `services` has exactly the interface of the services it wraps: the store switches caching
 * on and off without callers noticing.
 *
 * Never stale: every write through the services invalidates what it can change (before it
 * returns); a read that missed stores its result only if no invalidation happened meanwhile; and,
 * given `database`, a commit by any other connection (another process sharing the data directory)
 * is noticed before each cached read and empties the caches. Invalid calls are never answered
 * from the cache: only results of successful calls are kept, under keys that tell every distinct
 * argument apart. Cached results are shared: treat them as read-only (plain objects are frozen).
 *
 * @example
 * ```ts
 * const cache = createCache(createQueryServices({ db, content, writer: database }), { database })
 * const cell = await cache.services.cells.get(id) // from SQLite once, then from memory
 * cache.stats().cells.hits
 * ```
 */
export function createCache(
  services: QueryServices,
  options: CacheOptions & { database?: WatchedDatabase } = {},
): HiveCache {
  const { database, ...rest } = options
  const limits = parseInput(optionsSchema, rest, 'cache options')
  const cache = <V extends object>(name: keyof typeof DEFAULTS) =>
    new BoundedCache<V>({ ...DEFAULTS[name], ...stripUndefined(limits[name]) } as z.output<
      typeof limitsSchema
    >)
  const cells = cache<Cell>('cells')
  const cellLists = cache<CellPage>('cellLists')
  const tails = cache<TranscriptPage>('transcriptTails')
  const artifacts = cache<Artifact>('artifacts')
  const all = [cells, cellLists, tails, artifacts]
  const watch = database ? new CommitWatch(database) : undefined
  let foreignCommits = 0
  let closed = false

  const clearAll = () => {
    for (const c of all) c.clear()
  }
  /** Before any cached read: another connection's commit empties the caches. */
  const fresh = () => {
    if (closed) return false
    if (watch?.changed()) {
      foreignCommits += 1
      clearAll()
    }
    return true
  }
  /** A read through `c`: a hit, or the service's answer, kept if nothing changed meanwhile. */
  const through = <V extends object>(
    c: BoundedCache<V>,
    key: string | undefined,
    read: () => Promise<V>,
    size: (value: V) => number,
    tags?: (value: V) => readonly string[],
  ): Promise<V> => {
    if (key === undefined || !fresh()) return read()
    const hit = c.get(key)
    if (hit !== undefined) return Promise.resolve(hit)
    const generation = c.generation
    return read().then((value) => {
      c.set(key, value, size(value), generation, tags?.(value))
      return value
    })
  }
  /** A write: whatever it may have changed is invalidated when it settles, success or not. */
  const writing =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>, invalidate: (args: NoInfer<A>) => void) =>
    async (...args: A): Promise<R> => {
      try {
        return await write(...args)
      } finally {
        invalidate(args)
      }
    }

  const { cells: cellService, transcripts, artifacts: artifactService, sessions, workspaces } = services
  const clearCells = () => {
    cells.clear()
    cellLists.clear()
  }
  const changedCell = (id: unknown) => {
    if (typeof id === 'string') cells.delete(id)
    else cells.clear()
    cellLists.clear()
  }
  const sessionOf = (ref: unknown) => (ref as { sessionId?: unknown } | undefined)?.sessionId
  const transcriptWrite = ([ref]: readonly unknown[]) => {
    const session = sessionOf(ref)
    if (typeof session === 'string') {
      tails.deleteTagged(session)
      // A part written again may replace its spilled artifact (the old one is deleted).
      artifacts.deleteTagged(`session:${session}`)
    } else {
      tails.clear()
      artifacts.clear()
    }
  }

  const cached: QueryServices = {
    ...services,
    cells: decorate(cellService, {
      reads: ['countByStatus', 'getProvisioning', 'listServices', 'links'],
      overrides: {
        get: (id: string) =>
          through(
            cells,
            typeof id === 'string' ? id : undefined,
            () => cellService.get(id).then(deepFreeze),
            jsonBytes,
          ),
        list: (query?: Parameters<typeof cellService.list>[0]) =>
          through(
            cellLists,
            query === undefined || (isPlain(query) && (query as { cursor?: unknown }).cursor === undefined)
              ? keyOf(query ?? {})
              : undefined,
            () => cellService.list(query).then(deepFreeze),
            jsonBytes,
          ),
        create: writing(cellService.create.bind(cellService), () => cellLists.clear()),
        // A cell's row changes: that cell, and every list (order and filters may move it).
        update: writing(cellService.update.bind(cellService), ([id]) => changedCell(id)),
        setStatus: writing(cellService.setStatus.bind(cellService), ([id]) => changedCell(id)),
        // A deleted cell takes its sessions, transcripts and artifacts with it.
        delete: writing(cellService.delete.bind(cellService), clearAll),
        // Rows of other tables, none of them cached.
        setProvisioning: writing(cellService.setProvisioning.bind(cellService), () => {}),
        upsertService: writing(cellService.upsertService.bind(cellService), () => {}),
        setServiceStatus: writing(cellService.setServiceStatus.bind(cellService), () => {}),
        removeService: writing(cellService.removeService.bind(cellService), () => {}),
        link: writing(cellService.link.bind(cellService), () => {}),
        unlink: writing(cellService.unlink.bind(cellService), () => {}),
      },
      // A write the cache does not know (added to the service later) may touch any cell.
      otherWrite: clearCells,
    }),
    transcripts: decorate(transcripts, {
      reads: ['getMessage', 'originalPart', 'originalMessage', 'page', 'around', 'stream'],
      overrides: {
        tail: (session: string, n?: number) =>
          through(
            tails,
            typeof session === 'string' && (n === undefined || typeof n === 'number')
              ? keyOf([session, n ?? 50])
              : undefined,
            () => transcripts.tail(session, n).then(freezePage),
            pageBytes,
            () => [session],
          ),
        append: writing(transcripts.append.bind(transcripts), transcriptWrite),
        upsertMessage: writing(transcripts.upsertMessage.bind(transcripts), transcriptWrite),
        upsertPart: writing(transcripts.upsertPart.bind(transcripts), transcriptWrite),
      },
      otherWrite: () => {
        tails.clear()
        artifacts.clear()
      },
    }),
    artifacts: decorate(artifactService, {
      reads: ['list', 'open', 'isReferenced'],
      overrides: {
        get: (id: string) =>
          through(
            artifacts,
            typeof id === 'string' ? id : undefined,
            () => artifactService.get(id).then(deepFreeze),
            jsonBytes,
            (artifact) => [
              `cell:${artifact.cellId}`,
              ...(artifact.sessionId ? [`session:${artifact.sessionId}`] : []),
            ],
          ),
        put: writing(artifactService.put.bind(artifactService), () => {}),
        delete: writing(artifactService.delete.bind(artifactService), ([id]) => artifacts.delete(String(id))),
        deleteForCell: writing(artifactService.deleteForCell.bind(artifactService), ([cell]) =>
          artifacts.deleteTagged(`cell:${String(cell)}`),
        ),
        // Unreferenced blobs only: no artifact changes.
        forgetBlobs: writing(artifactService.forgetBlobs.bind(artifactService), () => {}),
      },
      otherWrite: () => artifacts.clear(),
    }),
    sessions: decorate(sessions, {
      reads: ['get', 'findByExternalId', 'list'],
      overrides: { create: writing(sessions.create.bind(sessions), () => {}) },
      // An update or delete: its transcript, and the artifacts naming it (set null on delete).
      otherWrite: () => {
        tails.clear()
        artifacts.clear()
      },
    }),
    workspaces: decorate(workspaces, {
      reads: ['get', 'findByPath', 'list'],
      overrides: { create: writing(workspaces.create.bind(workspaces), () => {}) },
      otherWrite: clearAll,
    }),
  }

  return {
    services: cached,
    stats: () => ({
      cells: cells.stats(),
      cellLists: cellLists.stats(),
      transcriptTails: tails.stats(),
      artifacts: artifacts.stats(),
      foreignCommits,
      versionChecks: watch?.checks ?? 0,
    }),
    invalidateAll: clearAll,
    close: () => {
      closed = true
      clearAll()
      watch?.close()
    },
  }
}

/**
 * An object with `inner`'s methods: `overrides` where given, `reads` passed through, and every
 * other method (one added to the service later included) treated as a write: passed through,
 * then `otherWrite` invalidates, so a method the cache does not know can only make it miss more.
 */
function decorate<T extends object>(
  inner: T,
  spec: {
    reads: ReadonlyArray<keyof T & string>
    overrides: Partial<Record<keyof T & string, unknown>>
    otherWrite: () => void
  },
): T {
  const out: Record<string, unknown> = {}
  for (const name of methodNames(inner)) {
    const method = (inner as Record<string, unknown>)[name] as (...args: unknown[]) => unknown
    if (name in spec.overrides) out[name] = spec.overrides[name as keyof T & string]
    else if ((spec.reads as readonly string[]).includes(name)) out[name] = method.bind(inner)
    else {
      out[name] = (...args: unknown[]) => {
        let result: unknown
        try {
          result = method.apply(inner, args)
        } catch (error) {
          spec.otherWrite()
          throw error
        }
        if (result instanceof Promise) {
          return result.finally(spec.otherWrite)
        }
        spec.otherWrite()
        return result
      }
    }
  }
  return out as T
}

function methodNames(object: object): string[] {
  const names = new Set<string>()
  for (let p = Object.getPrototypeOf(object); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name !== 'constructor' && typeof (p as Record<string, unknown>)[name] === 'function')
        names.add(name)
    }
  }
  return [...names]
}

function isPlain(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** Rough memory of a plain value: its JSON, two bytes a character. */
function jsonBytes(value: unknown): number {
  return 2 * JSON.stringify(value).length + 64
}

function pageBytes(page: TranscriptPage): number {
  let bytes = 200
  for (const message of page.messages) bytes += message.approximateBytes
  return bytes
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}

/** A page and its messages' arrays are frozen; their lazily parsed JSON is shared, not copied. */
function freezePage(page: TranscriptPage): TranscriptPage {
  for (const message of page.messages) {
    Object.freeze(message.parts)
    for (const part of message.parts) Object.freeze(part)
    Object.freeze(message)
  }
  Object.freeze(page.messages)
  return Object.freeze(page)
}
