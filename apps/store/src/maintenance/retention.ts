import { isHiveStorageError } from '@hive/errors'
import { type ArtifactType, CELL_STATUS_TRANSITIONS, type CellStatus } from '@hive/schema'
import { fanOut, type ProgressListener, reporter } from '../progress.js'
import type { HiveStore } from '../store.js'
import { type CollectGarbageResult, sweep } from './collect-garbage.js'
import {
  DELETE_BATCH,
  deleteCellGently,
  deleteSessionsGently,
  pause,
  throwIfAborted,
} from './delete-gently.js'
import { type RetentionPolicy, readRetentionPolicy } from './retention-policy.js'
import { type VacuumResult, vacuum } from './vacuum.js'

const DAY = 24 * 60 * 60 * 1000

/** Why an artifact is in a plan. */
export type ArtifactReason = 'max-age' | 'expired' | 'budget'

export interface PlannedCell {
  readonly id: string
  readonly name: string
  readonly status: CellStatus
  /** Last activity (archive) or archiving time (delete), ms since the epoch. */
  readonly since: number
  /** Budget deletions: archived cells deleted to meet the size budget. */
  readonly reason: 'inactive' | 'archived' | 'budget'
}

export interface PlannedSession {
  readonly id: string
  readonly cellId: string
  readonly title: string | null
  readonly createdAt: number
  readonly messages: number
  /** Sub-agent sessions that go with it. */
  readonly subSessions: number
}

export interface PlannedArtifact {
  readonly id: string
  readonly cellId: string
  readonly type: ArtifactType
  readonly name: string
  readonly createdAt: number
  readonly size: number
  readonly reason: ArtifactReason
}

/** Exactly what applying a retention policy now would do, and what it would free. */
export interface RetentionPlan {
  readonly policy: RetentionPolicy
  readonly now: number
  readonly archiveCells: readonly PlannedCell[]
  readonly deleteCells: readonly PlannedCell[]
  readonly deleteSessions: readonly PlannedSession[]
  readonly deleteArtifacts: readonly PlannedArtifact[]
  readonly freed: {
    /** Blob files no artifact would refer to any more (their stored, compressed size). */
    readonly blobBytes: number
    readonly blobs: number
    /** Row payload of the deleted rows (database pages reclaimed by vacuum: about this much). */
    readonly rowBytes: number
  }
  /** The size budget, when the policy sets one. */
  readonly budget: {
    readonly maxTotalBytes: number
    readonly currentBytes: number
    readonly projectedBytes: number
    readonly met: boolean
  } | null
}

/**
 * What the retention policy (the stored one unless given) would remove now: cells to archive,
 * archived cells, old sessions and artifacts to delete, with the bytes it would free. Reads only.
 *
 * @example
 * ```ts
 * const plan = await planRetention(store)
 * console.log(plan.deleteArtifacts.length, plan.freed.blobBytes)
 * ```
 */
export async function planRetention(
  store: HiveStore,
  options: {
    policy?: RetentionPolicy
    now?: number
    /** Compute the bytes it would free (default true; `freed` is zeros otherwise, unless a budget needs them). */
    estimate?: boolean
  } = {},
): Promise<RetentionPlan> {
  const policy = options.policy ?? readRetentionPolicy(store)
  const now = options.now ?? Date.now()
  return store.database.readTransaction(() => computePlan(store, policy, now, options.estimate ?? true))
}

function computePlan(
  store: HiveStore,
  policy: RetentionPolicy,
  now: number,
  estimate: boolean,
): RetentionPlan {
  const sqlite = store.database.sqlite
  // The bytes freed take reading every row that would go: skipped when nobody looks (the
  // maintenance runner), unless a size budget needs them.
  const measure = estimate || policy.maxTotalBytes !== undefined
  const archiveCells: PlannedCell[] = []
  const deleteCells: PlannedCell[] = []
  const deleteSessions: PlannedSession[] = []
  const deleteArtifacts: PlannedArtifact[] = []
  const doomedCells = new Set<string>()

  if (policy.deleteArchivedAfterDays !== undefined) {
    const rows = sqlite
      .prepare(
        `SELECT id, name, status, archived_at AS since FROM cells
         WHERE status = 'archived' AND archived_at < ? ORDER BY archived_at, id`,
      )
      .all(now - policy.deleteArchivedAfterDays * DAY) as Array<Omit<PlannedCell, 'reason'>>
    for (const row of rows) {
      deleteCells.push({ ...row, reason: 'archived' })
      doomedCells.add(row.id)
    }
  }

  if (policy.archiveInactiveAfterDays !== undefined) {
    const archivable = Object.entries(CELL_STATUS_TRANSITIONS)
      .filter(([, next]) => next.includes('archived'))
      .map(([status]) => `'${status}'`)
      .join(', ')
    // Activity: the cell's own changes, its sessions' and its timeline's.
    const rows = sqlite
      .prepare(
        `SELECT id, name, status, since FROM (
           SELECT c.id, c.name, c.status, max(
             c.updated_at,
             coalesce((SELECT max(s.updated_at) FROM sessions s WHERE s.cell_id = c.id), 0),
             coalesce((SELECT max(e.created_at) FROM events e WHERE e.cell_id = c.id), 0)
           ) AS since
           FROM cells c WHERE c.status IN (${archivable}) AND c.updated_at < ?
         ) WHERE since < ? ORDER BY since, id`,
      )
      .all(now - policy.archiveInactiveAfterDays * DAY, now - policy.archiveInactiveAfterDays * DAY) as Array<
      Omit<PlannedCell, 'reason'>
    >
    for (const row of rows) archiveCells.push({ ...row, reason: 'inactive' })
  }

  if (policy.keepSessionsPerCell !== undefined) {
    const rows = sqlite
      .prepare(
        `SELECT id, cell_id AS cellId, title, created_at AS createdAt, status FROM (
           SELECT s.*, row_number() OVER (PARTITION BY s.cell_id ORDER BY s.created_at DESC, s.id DESC) AS rank
           FROM sessions s WHERE s.parent_session_id IS NULL
         ) WHERE rank > ? AND status <> 'active' ORDER BY cell_id, created_at, id`,
      )
      .all(policy.keepSessionsPerCell) as Array<Omit<PlannedSession, 'messages' | 'subSessions'>>
    const tree = sqlite.prepare(
      `WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT s.id FROM sessions s JOIN tree ON s.parent_session_id = tree.id)
         SELECT count(*) - 1 AS subSessions,
           (SELECT count(*) FROM messages m WHERE m.session_id IN (SELECT id FROM tree)) AS messages
         FROM tree`,
    )
    for (const row of rows) {
      if (doomedCells.has(row.cellId)) continue
      const { subSessions, messages } = tree.get(row.id) as { subSessions: number; messages: number }
      deleteSessions.push({
        id: row.id,
        cellId: row.cellId,
        title: row.title,
        createdAt: row.createdAt,
        messages,
        subSessions,
      })
    }
  }

  const doomedArtifacts = new Set<string>()
  const addArtifacts = (rows: Array<Omit<PlannedArtifact, 'reason'>>, reason: ArtifactReason) => {
    for (const row of rows) {
      if (doomedCells.has(row.cellId) || doomedArtifacts.has(row.id)) continue
      doomedArtifacts.add(row.id)
      deleteArtifacts.push({ ...row, reason })
    }
  }
  const artifactColumns = 'id, cell_id AS cellId, type, name, created_at AS createdAt, size'
  addArtifacts(
    sqlite
      .prepare(`SELECT ${artifactColumns} FROM artifacts WHERE expires_at < ? ORDER BY expires_at, id`)
      .all(now) as Array<Omit<PlannedArtifact, 'reason'>>,
    'expired',
  )
  for (const [type, age] of Object.entries(policy.artifactMaxAgeDays ?? {})) {
    addArtifacts(
      sqlite
        .prepare(
          `SELECT ${artifactColumns} FROM artifacts WHERE type = ? AND created_at < ? ORDER BY created_at, id`,
        )
        .all(type, now - age * DAY) as Array<Omit<PlannedArtifact, 'reason'>>,
      'max-age',
    )
  }

  // What would go in cascade: artifacts of deleted cells, and those owned by deleted sessions' rows.
  const cascade = new Set<string>()
  const cellArtifacts = sqlite.prepare('SELECT id FROM artifacts WHERE cell_id = ?').pluck()
  if (measure) for (const id of doomedCells) for (const a of cellArtifacts.all(id) as string[]) cascade.add(a)
  const owned = sqlite
    .prepare(
      `WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT s.id FROM sessions s JOIN tree ON s.parent_session_id = tree.id)
       SELECT p.artifact_id FROM parts p JOIN messages m ON m.id = p.message_id
       WHERE m.session_id IN (SELECT id FROM tree) AND p.artifact_id IS NOT NULL
       UNION SELECT m.artifact_id FROM messages m WHERE m.session_id IN (SELECT id FROM tree) AND m.artifact_id IS NOT NULL`,
    )
    .pluck()
  if (measure)
    for (const session of deleteSessions) for (const a of owned.all(session.id) as string[]) cascade.add(a)

  const rowBytesOfCell = sqlite
    .prepare(
      `SELECT coalesce((SELECT sum(length(CAST(m.data AS BLOB))) FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.cell_id = @cell), 0)
            + coalesce((SELECT sum(length(CAST(p.data AS BLOB)) + coalesce(length(CAST(p.text AS BLOB)), 0)) FROM parts p JOIN messages m ON m.id = p.message_id JOIN sessions s ON s.id = m.session_id WHERE s.cell_id = @cell), 0)
            + coalesce((SELECT sum(length(CAST(payload AS BLOB))) FROM events WHERE cell_id = @cell), 0)
            + coalesce((SELECT sum(length(CAST(content AS BLOB))) FROM plans WHERE cell_id = @cell), 0)`,
    )
    .pluck()
  const rowBytesOfSession = sqlite
    .prepare(
      `WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT s.id FROM sessions s JOIN tree ON s.parent_session_id = tree.id)
       SELECT coalesce((SELECT sum(length(CAST(m.data AS BLOB))) FROM messages m WHERE m.session_id IN (SELECT id FROM tree)), 0)
            + coalesce((SELECT sum(length(CAST(p.data AS BLOB)) + coalesce(length(CAST(p.text AS BLOB)), 0)) FROM parts p JOIN messages m ON m.id = p.message_id WHERE m.session_id IN (SELECT id FROM tree)), 0)`,
    )
    .pluck()
  let rowBytes = 0
  if (measure) {
    for (const id of doomedCells) rowBytes += rowBytesOfCell.get({ cell: id }) as number
    for (const session of deleteSessions) rowBytes += rowBytesOfSession.get(session.id) as number
  }

  // Blob files freed: those whose every referring artifact would go.
  const references = sqlite.prepare('SELECT count(*) FROM artifacts WHERE blob_hash = ?').pluck()
  const blobOf = sqlite.prepare(
    'SELECT a.blob_hash AS hash, b.stored_size AS stored FROM artifacts a JOIN blobs b ON b.hash = a.blob_hash WHERE a.id = ?',
  )
  const doomedRefs = new Map<string, { refs: number; stored: number }>()
  let blobBytes = 0
  let blobs = 0
  const doom = (artifactId: string): number => {
    const blob = blobOf.get(artifactId) as { hash: string; stored: number } | undefined
    if (!blob) return 0
    const entry = doomedRefs.get(blob.hash) ?? { refs: 0, stored: blob.stored }
    entry.refs += 1
    doomedRefs.set(blob.hash, entry)
    if (entry.refs === (references.get(blob.hash) as number)) {
      blobBytes += blob.stored
      blobs += 1
      return blob.stored
    }
    return 0
  }
  if (measure) {
    for (const id of cascade) if (!doomedArtifacts.has(id)) doom(id)
    for (const artifact of deleteArtifacts) doom(artifact.id)
  }

  let budget: RetentionPlan['budget'] = null
  if (policy.maxTotalBytes !== undefined) {
    const pageSize = Number(sqlite.pragma('page_size', { simple: true }))
    const pages = Number(sqlite.pragma('page_count', { simple: true }))
    const free = Number(sqlite.pragma('freelist_count', { simple: true }))
    const blobTotal = sqlite
      .prepare('SELECT coalesce(sum(stored_size), 0) FROM blobs')
      .pluck()
      .get() as number
    const currentBytes = (pages - free) * pageSize + blobTotal
    let projected = currentBytes - blobBytes - rowBytes
    // Oldest artifacts first, then the oldest archived cells, until the budget is met.
    if (projected > policy.maxTotalBytes) {
      const oldest = sqlite.prepare(
        `SELECT ${artifactColumns} FROM artifacts WHERE (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ${DELETE_BATCH}`,
      )
      let after: [number, string] = [-1, '']
      outer: for (;;) {
        const rows = oldest.all(...after) as Array<Omit<PlannedArtifact, 'reason'>>
        if (rows.length === 0) break
        for (const row of rows) {
          after = [row.createdAt, row.id]
          if (doomedCells.has(row.cellId) || doomedArtifacts.has(row.id) || cascade.has(row.id)) continue
          doomedArtifacts.add(row.id)
          deleteArtifacts.push({ ...row, reason: 'budget' })
          projected -= doom(row.id)
          if (projected <= policy.maxTotalBytes) break outer
        }
      }
    }
    if (projected > policy.maxTotalBytes) {
      const archived = sqlite
        .prepare(
          `SELECT id, name, status, archived_at AS since FROM cells WHERE status = 'archived' ORDER BY archived_at, id`,
        )
        .all() as Array<Omit<PlannedCell, 'reason'>>
      for (const cell of archived) {
        if (doomedCells.has(cell.id)) continue
        doomedCells.add(cell.id)
        deleteCells.push({ ...cell, reason: 'budget' })
        const bytes = rowBytesOfCell.get({ cell: cell.id }) as number
        rowBytes += bytes
        projected -= bytes
        for (const a of cellArtifacts.all(cell.id) as string[]) {
          if (!doomedArtifacts.has(a) && !cascade.has(a)) {
            cascade.add(a)
            projected -= doom(a)
          }
        }
        if (projected <= policy.maxTotalBytes) break
      }
    }
    budget = {
      maxTotalBytes: policy.maxTotalBytes,
      currentBytes,
      projectedBytes: Math.max(0, projected),
      met: projected <= policy.maxTotalBytes,
    }
  }

  return {
    policy,
    now,
    archiveCells,
    deleteCells,
    deleteSessions,
    // A budget-deleted cell takes its artifacts along: they are not listed twice.
    deleteArtifacts: deleteArtifacts.filter((a) => !doomedCells.has(a.cellId)),
    freed: { blobBytes, blobs, rowBytes },
    budget,
  }
}

export interface ApplyRetentionOptions {
  readonly policy?: RetentionPolicy
  readonly now?: number
  /** Blob gc's grace period (see {@link collectGarbage}). */
  readonly graceMs?: number
  /** A pause between write batches, so that other writers get the lock (the maintenance runner's). */
  readonly pauseMs?: number
  /** Collect blobs and vacuum afterwards (default true). */
  readonly collect?: boolean
  /** Estimate the bytes freed in the plan (default true; the maintenance runner does without). */
  readonly estimate?: boolean
  /** Stops the work between batches (`ABORTED`): what was done stays done. */
  readonly signal?: AbortSignal
  readonly onProgress?: ProgressListener
}

/** What applying a retention policy did. */
export interface RetentionResult {
  readonly plan: RetentionPlan
  readonly archivedCells: number
  readonly deletedCells: number
  readonly deletedSessions: number
  readonly deletedMessages: number
  readonly deletedArtifacts: number
  /** Items of the plan that changed meanwhile (a cell reopened, a row already gone): left alone. */
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly reason: string }>
  readonly gc: CollectGarbageResult
  readonly vacuum: VacuumResult
}

/**
 * Applies the retention policy: archives inactive cells, deletes what the plan lists (in small
 * write transactions), collects the blobs nothing refers to any more, and reclaims the database's
 * free pages (incremental vacuum). Each step re-checks its conditions, so that what changed since
 * the plan was made is left alone and reported as skipped.
 *
 * @example
 * ```ts
 * const result = await applyRetention(store, { onProgress: (e) => console.log(e.phase, e.done, e.total) })
 * console.log(result.gc.bytesFreed + result.vacuum.reclaimedBytes)
 * ```
 */
export async function applyRetention(
  store: HiveStore,
  options: ApplyRetentionOptions = {},
): Promise<RetentionResult> {
  return store.operations.track(
    'retention.apply',
    (progress) => retain(store, { ...options, onProgress: fanOut(progress, options.onProgress) }),
    (result) => ({
      archivedCells: result.archivedCells,
      deletedCells: result.deletedCells,
      deletedSessions: result.deletedSessions,
      deletedMessages: result.deletedMessages,
      deletedArtifacts: result.deletedArtifacts,
      skipped: result.skipped.length,
      bytesFreed: result.gc.bytesFreed + result.vacuum.reclaimedBytes,
    }),
  )
}

/** {@link applyRetention} without its operation record (the maintenance runner keeps its own). */
export async function retain(store: HiveStore, options: ApplyRetentionOptions): Promise<RetentionResult> {
  const progress = reporter(options.onProgress)
  const now = options.now ?? Date.now()
  const pauseMs = options.pauseMs ?? 0
  const plan = await planRetention(store, {
    ...(options.policy ? { policy: options.policy } : {}),
    now,
    estimate: options.estimate ?? true,
  })
  const skipped: Array<{ id: string; reason: string }> = []
  let archivedCells = 0
  let deletedCells = 0
  let deletedSessions = 0
  let deletedMessages = 0
  let deletedArtifacts = 0
  try {
    const total = plan.archiveCells.length
    const lastActivity = store.database.sqlite
      .prepare(
        `SELECT max(c.updated_at,
           coalesce((SELECT max(s.updated_at) FROM sessions s WHERE s.cell_id = c.id), 0),
           coalesce((SELECT max(e.created_at) FROM events e WHERE e.cell_id = c.id), 0)) FROM cells c WHERE c.id = ?`,
      )
      .pluck()
    const inactiveSince = now - (plan.policy.archiveInactiveAfterDays ?? 0) * DAY
    for (const [index, cell] of plan.archiveCells.entries()) {
      progress({ phase: 'archiving cells', done: index, total })
      throwIfAborted(options.signal)
      if (((lastActivity.get(cell.id) as number | undefined) ?? 0) >= inactiveSince) {
        skipped.push({ id: cell.id, reason: 'active again since the plan was made' })
        continue
      }
      try {
        await store.uncached.cells.setStatus(cell.id, 'archived', { source: 'system', reason: 'retention' })
        archivedCells += 1
      } catch (error) {
        if (!isHiveStorageError(error, 'CONFLICT', 'NOT_FOUND')) throw error
        skipped.push({ id: cell.id, reason: error.message })
      }
    }
    const archivedBefore = store.database.sqlite.prepare(
      "SELECT 1 FROM cells WHERE id = ? AND status = 'archived'",
    )
    for (const [index, cell] of plan.deleteCells.entries()) {
      progress({ phase: 'deleting cells', done: index, total: plan.deleteCells.length })
      if (archivedBefore.get(cell.id) === undefined) {
        skipped.push({ id: cell.id, reason: 'no longer archived' })
        continue
      }
      const deleted = await deleteCellGently(store, cell.id, () => {}, {
        pauseMs,
        ...(options.signal ? { signal: options.signal } : {}),
      })
      deletedCells += 1
      deletedSessions += deleted.sessions
      deletedMessages += deleted.messages
      deletedArtifacts += deleted.artifacts
    }
    const stillThere = store.database.sqlite.prepare('SELECT 1 FROM sessions WHERE id = ?')
    for (const [index, session] of plan.deleteSessions.entries()) {
      progress({ phase: 'deleting sessions', done: index, total: plan.deleteSessions.length })
      if (stillThere.get(session.id) === undefined) {
        skipped.push({ id: session.id, reason: 'already gone' })
        continue
      }
      const deleted = await deleteSessionsGently(store, [session.id], () => {}, {
        pauseMs,
        onlyIdle: true,
        ...(options.signal ? { signal: options.signal } : {}),
      })
      deletedSessions += deleted.sessions
      deletedMessages += deleted.messages
      deletedArtifacts += deleted.artifacts
      skipped.push(...deleted.skipped)
    }
    // Each artifact again meets its reason (an expiry may have been moved; budget and age reasons hold).
    const remove = store.database.sqlite.prepare(
      "DELETE FROM artifacts WHERE id = ? AND (? <> 'expired' OR expires_at < ?)",
    )
    const artifacts = plan.deleteArtifacts
    for (let i = 0; i < artifacts.length; i += DELETE_BATCH) {
      progress({ phase: 'deleting artifacts', done: i, total: artifacts.length })
      throwIfAborted(options.signal)
      const batch = artifacts.slice(i, i + DELETE_BATCH)
      deletedArtifacts += await store.database.writeTransaction(() =>
        batch.reduce((sum, artifact) => sum + remove.run(artifact.id, artifact.reason, now).changes, 0),
      )
      if (pauseMs) await pause(pauseMs)
    }
  } finally {
    // Whatever happened, nothing stale is served afterwards.
    store.invalidateCaches()
  }
  const collect = options.collect ?? true
  const gc = collect
    ? await sweep(store, {
        ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      })
    : NO_GC
  const vacuumed = collect
    ? await vacuum(store, { pauseMs, ...(options.onProgress ? { onProgress: options.onProgress } : {}) })
    : NO_VACUUM
  return {
    plan,
    archivedCells,
    deletedCells,
    deletedSessions,
    deletedMessages,
    deletedArtifacts,
    skipped,
    gc,
    vacuum: vacuumed,
  }
}

/** Whether applying `plan` would change anything. */
export function isEmptyPlan(plan: RetentionPlan): boolean {
  return (
    plan.archiveCells.length +
      plan.deleteCells.length +
      plan.deleteSessions.length +
      plan.deleteArtifacts.length ===
    0
  )
}

const NO_GC: CollectGarbageResult = {
  dryRun: false,
  scanned: 0,
  removed: 0,
  bytesFreed: 0,
  keptYoung: 0,
  tempFiles: 0,
  tempBytes: 0,
  forgottenRows: 0,
}
const NO_VACUUM: VacuumResult = {
  mode: 'incremental',
  beforeBytes: 0,
  afterBytes: 0,
  reclaimedBytes: 0,
  freeBytes: 0,
}
