import { HiveStorageError, parseInput } from '@hive/errors'
import { ARTIFACT_TYPES, type ArtifactType, idSchema } from '@hive/schema'
import { fileSize } from '../file-size.js'
import type { HiveStore } from '../store.js'

/** Items of one kind and the bytes they take: as written (logical) and on disk (stored). */
export interface UsageLine {
  readonly items: number
  readonly logicalBytes: number
  readonly storedBytes: number
}

export interface StoreUsage {
  /** The cell measured, or null for the whole store. */
  readonly cellId: string | null
  /** Messages and parts: their stored JSON and searchable text. */
  readonly transcripts: UsageLine & { readonly messages: number; readonly parts: number }
  /** Artifacts by type: content size, and the stored (compressed, deduplicated) size of their blobs. */
  readonly artifacts: Readonly<Record<ArtifactType, UsageLine>>
  readonly artifactsTotal: UsageLine
  readonly plans: UsageLine
  readonly events: UsageLine
  readonly metrics: UsageLine
  /** The full-text search index (for a cell: the text of its documents). */
  readonly searchIndex: UsageLine
  /** What compression and deduplication of artifact content save, in bytes. */
  readonly savings: { readonly compressionBytes: number; readonly deduplicationBytes: number }
  /** The whole store only: files on disk. */
  readonly disk: {
    readonly databaseBytes: number
    readonly walBytes: number
    /** Free pages in the database file (reclaimed by `hive vacuum`). */
    readonly freeBytes: number
    readonly blobFiles: number
    readonly blobBytes: number
  } | null
  readonly total: { readonly logicalBytes: number; readonly storedBytes: number }
}

const cellIdSchema = idSchema('cell')

/**
 * Storage usage per kind of data, for one cell or the whole store: logical bytes (as written) and
 * stored bytes (on disk: compressed and deduplicated blobs; for database rows, their share of the
 * database's pages as `dbstat` counts them for the whole store, their payload for a cell).
 *
 * @example
 * ```ts
 * const usage = await storeUsage(store, { cellId })
 * console.log(usage.artifacts.log.storedBytes, usage.savings.deduplicationBytes)
 * ```
 */
export async function storeUsage(store: HiveStore, options: { cellId?: string } = {}): Promise<StoreUsage> {
  const cellId = options.cellId === undefined ? null : parseInput(cellIdSchema, options.cellId, 'cell id')
  const db = store.database.sqlite
  const one = <T>(sql: string, ...params: unknown[]) => db.prepare(sql).get(...params) as T
  if (cellId !== null && !one<{ n: number } | undefined>('SELECT 1 AS n FROM cells WHERE id = ?', cellId)) {
    throw new HiveStorageError('NOT_FOUND', `there is no cell ${cellId}`, { value: cellId })
  }
  // One read transaction: every figure from the same state.
  return store.database.readTransaction(() => {
    const where = (column: string) => (cellId === null ? '' : `WHERE ${column} = ?`)
    const params = cellId === null ? [] : [cellId]
    const bytes = (expr: string) => `coalesce(sum(length(CAST(${expr} AS BLOB))), 0)`
    const messages = one<{ n: number; b: number }>(
      `SELECT count(*) AS n, ${bytes('m.data')} + ${bytes('m.error')} AS b FROM messages m ${
        cellId === null ? '' : 'JOIN sessions s ON s.id = m.session_id WHERE s.cell_id = ?'
      }`,
      ...params,
    )
    const parts = one<{ n: number; b: number }>(
      `SELECT count(*) AS n, ${bytes('p.data')} + ${bytes('p.text')} AS b FROM parts p ${
        cellId === null
          ? ''
          : 'JOIN messages m ON m.id = p.message_id JOIN sessions s ON s.id = m.session_id WHERE s.cell_id = ?'
      }`,
      ...params,
    )
    const artifactRows = db
      .prepare(
        `SELECT a.type AS type, count(*) AS n, coalesce(sum(a.size), 0) AS logical FROM artifacts a ${where('a.cell_id')} GROUP BY a.type`,
      )
      .all(...params) as Array<{ type: ArtifactType; n: number; logical: number }>
    // Stored: each distinct blob once (what deduplication keeps), counted under the first type using it.
    const blobRows = db
      .prepare(
        `SELECT min(a.type) AS type, b.size AS size, b.stored_size AS stored FROM artifacts a JOIN blobs b ON b.hash = a.blob_hash ${where('a.cell_id')} GROUP BY b.hash`,
      )
      .all(...params) as Array<{ type: ArtifactType; size: number; stored: number }>
    const artifacts = Object.fromEntries(
      ARTIFACT_TYPES.map((type) => [type, { items: 0, logicalBytes: 0, storedBytes: 0 }]),
    ) as Record<ArtifactType, { items: number; logicalBytes: number; storedBytes: number }>
    for (const row of artifactRows) {
      artifacts[row.type].items = row.n
      artifacts[row.type].logicalBytes = row.logical
    }
    let uniqueBytes = 0
    let storedBlobBytes = 0
    for (const row of blobRows) {
      artifacts[row.type].storedBytes += row.stored
      uniqueBytes += row.size
      storedBlobBytes += row.stored
    }
    const artifactsTotal = {
      items: artifactRows.reduce((sum, row) => sum + row.n, 0),
      logicalBytes: artifactRows.reduce((sum, row) => sum + row.logical, 0),
      storedBytes: storedBlobBytes,
    }
    const line = (sql: string): { n: number; b: number } => one(sql, ...params)
    const plans = line(`SELECT count(*) AS n, ${bytes('content')} AS b FROM plans ${where('cell_id')}`)
    const events = line(`SELECT count(*) AS n, ${bytes('payload')} AS b FROM events ${where('cell_id')}`)
    const metrics = line(
      `SELECT count(*) AS n, ${bytes('tags')} + 16 * count(*) AS b FROM metrics ${where('cell_id')}`,
    )
    const search = line(
      `SELECT count(*) AS n, ${bytes('title')} + ${bytes('body')} AS b FROM search ${where('cell_id')}`,
    )
    // The whole store: what each kind takes in the database file, page by page.
    let disk: StoreUsage['disk'] = null
    const stored = { transcripts: 0, plans: 0, events: 0, metrics: 0, search: 0 }
    if (cellId === null) {
      const pages = db
        .prepare(
          `SELECT coalesce(m.tbl_name, d.name) AS owner, sum(d.pgsize) AS bytes FROM dbstat d
           LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY owner`,
        )
        .all() as Array<{ owner: string; bytes: number }>
      for (const { owner, bytes: size } of pages) {
        if (owner === 'messages' || owner === 'parts') stored.transcripts += size
        else if (owner === 'plans' || owner === 'plan_feedback') stored.plans += size
        else if (owner === 'events') stored.events += size
        else if (owner === 'metrics') stored.metrics += size
        else if (owner === 'search' || owner.startsWith('search_')) stored.search += size
      }
      const pageSize = Number(db.pragma('page_size', { simple: true }))
      const freePages = Number(db.pragma('freelist_count', { simple: true }))
      disk = {
        databaseBytes: fileSize(store.layout.database),
        walBytes: fileSize(`${store.layout.database}-wal`),
        freeBytes: pageSize * freePages,
        blobFiles: 0,
        blobBytes: 0,
      }
    } else {
      stored.transcripts = messages.b + parts.b
      stored.plans = plans.b
      stored.events = events.b
      stored.metrics = metrics.b
      stored.search = search.b
    }
    const transcripts = {
      messages: messages.n,
      parts: parts.n,
      items: messages.n + parts.n,
      logicalBytes: messages.b + parts.b,
      storedBytes: stored.transcripts,
    }
    const usage = {
      cellId,
      transcripts,
      artifacts,
      artifactsTotal,
      plans: { items: plans.n, logicalBytes: plans.b, storedBytes: stored.plans },
      events: { items: events.n, logicalBytes: events.b, storedBytes: stored.events },
      metrics: { items: metrics.n, logicalBytes: metrics.b, storedBytes: stored.metrics },
      searchIndex: { items: search.n, logicalBytes: search.b, storedBytes: stored.search },
      savings: {
        compressionBytes: uniqueBytes - storedBlobBytes,
        deduplicationBytes: artifactsTotal.logicalBytes - uniqueBytes,
      },
      disk,
    }
    const lines = [transcripts, artifactsTotal, usage.plans, usage.events, usage.metrics, usage.searchIndex]
    return {
      ...usage,
      total: {
        logicalBytes: lines.reduce((sum, l) => sum + l.logicalBytes, 0),
        storedBytes:
          disk === null
            ? lines.reduce((sum, l) => sum + l.storedBytes, 0)
            : disk.databaseBytes + disk.walBytes + artifactsTotal.storedBytes,
      },
    }
  })
}

/** The blob files on disk (for the whole store's usage): walks the blob store. */
export async function withBlobFiles(store: HiveStore, usage: StoreUsage): Promise<StoreUsage> {
  if (usage.disk === null) return usage
  const stats = await store.blobs.stats()
  return { ...usage, disk: { ...usage.disk, blobFiles: stats.count, blobBytes: stats.storedBytes } }
}
