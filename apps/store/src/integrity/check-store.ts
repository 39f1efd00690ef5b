import { type HiveStorageError, isHiveStorageError } from '@hive/errors'
import { integrityCheck, quickCheck, toHiveStorageError } from '@hive/sqlite'
import { clearDamaged, markDamaged } from '../damage-marker.js'
import { trackOperation } from '../operations/track-operation.js'
import { fanOut, type ProgressListener, reporter } from '../progress.js'
import { SnapshotStore } from '../snapshot-store.js'
import type { HiveStore } from '../store.js'
import { type BlobSample, checkBlobSample, pickSample } from './blob-sample.js'
import type { CheckOrphans, CheckProblem, CheckReport, CheckStats, RepairAction } from './check-report.js'
import {
  type BlobFacts,
  type DanglingReference,
  danglingReferences,
  repairDanglingReferences,
} from './foreign-keys.js'
import {
  compareSearchIndex,
  hasSearchIndex,
  rebuildSearchIndex,
  type SearchIndexState,
  searchIntegrityProblem,
} from './search-index.js'

export interface CheckOptions {
  /** `PRAGMA integrity_check` (every index against its table) instead of `quick_check`. */
  readonly full?: boolean
  /** Verify only a random sample of the blob files (all of them by default). */
  readonly sample?: BlobSample
  /** Repair what can be repaired, then check again: the report's `problems` are what remains. */
  readonly repair?: boolean
  readonly onProgress?: ProgressListener
  /** For the sample (`Math.random` by default). */
  readonly random?: () => number
  readonly now?: () => number
}

/** Everything one pass of the check saw: the problems, and what a repair needs to fix them. */
interface Inspection {
  readonly problems: CheckProblem[]
  /** The database itself is damaged: nothing is written to it, `hive recover` is the way. */
  corrupt: boolean
  references: DanglingReference[]
  searchCorrupt: string | null
  searchState: SearchIndexState | null
  /** Available artifacts whose blob file is gone, by hash. */
  readonly missingBlobs: Map<string, string[]>
  /** Blob files that failed verification, with the artifacts that use them. */
  readonly corruptBlobs: Map<string, { problem: string; artifacts: string[] }>
  /** Artifacts marked missing whose blob file is there again, by hash. */
  readonly restorable: Map<string, string[]>
  staleRows: string[]
  orphans: CheckOrphans
  stats: CheckStats
  /** The blob hashes verified (the sample, or every file). */
  verified: string[]
  blobFiles: number
}

/**
 * Checks a store's data directory: the database's structure (`quick_check`, or
 * `integrity_check` with `full`), its foreign keys, the search index (FTS5's own check, and its
 * documents against the rows they come from), every artifact's blob file, the blob files'
 * content (all, or a `sample`), and lists blob files and rows nothing refers to. With `repair`,
 * it fixes what it safely can (see {@link RepairAction}), invalidates the store's caches and
 * checks again.
 *
 * Problems are findings, not errors: the report lists each with a kind and details. A damaged
 * database is reported too (`database-corrupt`); it is then never written to, and
 * {@link recoverDatabase} is the way forward.
 *
 * @example
 * ```ts
 * const store = await openHiveStore({ dataDir })
 * const report = await checkStore(store, { sample: { percent: 10 }, repair: true })
 * if (!report.ok) console.log(report.problems)
 * await store.close()
 * ```
 */
export async function checkStore(store: HiveStore, options: CheckOptions = {}): Promise<CheckReport> {
  const report = await trackOperation(
    store,
    options?.repair ? 'check.repair' : 'check',
    (progress) =>
      checkStoreUntracked(store, {
        ...options,
        onProgress: fanOut(progress, options?.onProgress),
      } as typeof options),
    (report) => ({
      ok: report.ok,
      problems: report.problems.length,
      repaired: report.repaired.length,
      stats: report.stats,
    }),
    // Never a write to a database found damaged: the record is written at the end, if sound.
    {
      recordIf: (report) =>
        !report.found.some((p) => p.kind === 'database-corrupt' || p.kind === 'database-unreadable'),
    },
  )
  // A damaged database is marked, so that nothing but check and recover opens it; a sound one is cleared.
  const damaged = report.found.find((p) => p.kind === 'database-corrupt' || p.kind === 'database-unreadable')
  if (damaged)
    markDamaged(store.layout.root, {
      foundAt: (options.now ?? Date.now)(),
      by: 'hive check',
      problem: damaged.message,
    })
  else clearDamaged(store.layout.root)
  return report
}

/** {@link checkStore} without its operation record. */
async function checkStoreUntracked(store: HiveStore, options: CheckOptions = {}): Promise<CheckReport> {
  const started = performance.now()
  if (options.sample) checkBlobSample(options.sample)
  const progress = reporter(options.onProgress)
  const first = await inspect(store, options, progress, undefined)
  // Artifacts whose content is back are no problem, but a repair makes them available again.
  if (!options.repair || (first.problems.length === 0 && first.restorable.size === 0))
    return report(store, options, first, first.problems, [], started)
  const repaired = await repair(store, first, progress, (options.now ?? Date.now)())
  // Nothing changed (a damaged database is not written to): the first findings stand.
  if (repaired.length === 0) return report(store, options, first, first.problems, [], started)
  store.invalidateCaches()
  const quarantined = new Set(
    repaired.filter((a) => a.kind === 'blob-quarantined').map((a) => a.details.hash as string),
  )
  const second = await inspect(
    store,
    options,
    progress,
    first.verified.filter((hash) => !quarantined.has(hash)),
  )
  return report(store, options, second, first.problems, repaired, started)
}

function report(
  store: HiveStore,
  options: CheckOptions,
  last: Inspection,
  found: readonly CheckProblem[],
  repaired: readonly RepairAction[],
  started: number,
): CheckReport {
  return {
    ok: last.problems.length === 0,
    dataDir: store.layout.root,
    full: options.full ?? false,
    sample: options.sample ? { verified: last.verified.length, of: last.blobFiles } : 'all',
    problems: last.problems,
    found,
    repaired,
    orphans: last.orphans,
    stats: last.stats,
    durationMs: Math.round(performance.now() - started),
  }
}

/** A read that hits damage in the database: a finding, not a failure of the check. */
function corruption(error: unknown, phase: string): HiveStorageError | null {
  const hive = isHiveStorageError(error) ? error : toHiveStorageError(error, phase)
  return isHiveStorageError(hive, 'DATABASE_CORRUPT', 'NOT_A_DATABASE') ? hive : null
}

async function inspect(
  store: HiveStore,
  options: CheckOptions,
  progress: ProgressListener,
  sampled: readonly string[] | undefined,
): Promise<Inspection> {
  const sqlite = store.database.sqlite
  const found: Inspection = {
    problems: [],
    corrupt: false,
    references: [],
    searchCorrupt: null,
    searchState: null,
    missingBlobs: new Map(),
    corruptBlobs: new Map(),
    restorable: new Map(),
    staleRows: [],
    orphans: { files: [], rows: [] },
    stats: { artifacts: 0, artifactsMissing: 0, blobFiles: 0, blobsVerified: 0, searchDocuments: 0 },
    verified: [],
    blobFiles: 0,
  }
  const guarded = async <T>(phase: string, run: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      return await run()
    } catch (error) {
      const damage = corruption(error, `checking ${phase}`)
      if (!damage) throw error
      found.corrupt = true
      found.problems.push({
        kind: 'database-corrupt',
        message: `the ${phase} check stopped on damage in the database (${damage.message}): run \`hive recover\``,
        details: { phase, error: damage.message },
      })
      return undefined
    }
  }

  // 1. The database's structure.
  const pragma = options.full ? 'integrity_check' : 'quick_check'
  progress({ phase: pragma, done: 0, total: 1 })
  const structure = options.full ? integrityCheck(sqlite) : quickCheck(sqlite)
  // SQLite's check also runs FTS5's on the search index: that part a rebuild repairs.
  const ofSearch = (line: string) => /\bFTS5 table (?:main\.)?search\b/.test(line)
  const damage = structure.problems.filter((line) => !ofSearch(line))
  if (damage.length > 0) {
    found.corrupt = true
    found.problems.push({
      kind: 'database-corrupt',
      message: `${pragma} found ${damage.length} problem(s), the first: ${damage[0]}: run \`hive recover\``,
      details: { check: pragma, messages: damage },
    })
  }
  const searchDamage = structure.problems.filter(ofSearch)
  progress({ phase: pragma, done: 1, total: 1 })

  // 2. Foreign keys.
  progress({ phase: 'foreign keys', done: 0, total: 1 })
  found.references = (await guarded('foreign key', () => danglingReferences(sqlite))) ?? []
  for (const reference of found.references) {
    found.problems.push({
      kind: 'foreign-key',
      message: `${reference.count} ${reference.table} row(s) refer through ${reference.columns.join(', ')} to ${reference.parent} rows that do not exist`,
      details: { ...reference },
    })
  }
  progress({ phase: 'foreign keys', done: 1, total: 1 })

  // 3. The search index.
  progress({ phase: 'search index', done: 0, total: 2 })
  // In a damaged database the index fails with the same damage, and recovery rebuilds it anyway.
  if (!found.corrupt && hasSearchIndex(sqlite)) {
    found.searchCorrupt =
      searchDamage[0] ?? (await guarded('search index', () => searchIntegrityProblem(sqlite))) ?? null
    if (found.searchCorrupt !== null) {
      found.problems.push({
        kind: 'search-index-corrupt',
        message: `the search index fails its integrity check (${found.searchCorrupt}): \`hive check --repair\` rebuilds it`,
        details: { error: found.searchCorrupt },
      })
    }
    progress({ phase: 'search index', done: 1, total: 2 })
    // A damaged index cannot be compared reliably; the rebuild that repairs it fixes both.
    if (found.searchCorrupt === null) {
      found.searchState = (await guarded('search index', () => compareSearchIndex(sqlite))) ?? null
      const state = found.searchState
      if (state && state.missing + state.different + state.extra > 0) {
        found.problems.push({
          kind: 'search-index-stale',
          message: `the search index differs from its rows: ${state.missing} document(s) missing, ${state.different} out of date, ${state.extra} without a row: \`hive check --repair\` rebuilds it`,
          details: { ...state },
        })
      }
      found.stats = { ...found.stats, searchDocuments: state?.indexed ?? 0 }
    }
  }
  progress({ phase: 'search index', done: 2, total: 2 })

  // 4. Every artifact's blob file.
  const groups =
    (await guarded('artifact', () =>
      sqlite
        .prepare(
          `SELECT blob_hash AS hash, status, count(*) AS n, group_concat(id) AS ids
           FROM artifacts GROUP BY blob_hash, status ORDER BY blob_hash`,
        )
        .all(),
    )) ?? []
  const artifactHashes = new Set<string>()
  let artifacts = 0
  let artifactsMissing = 0
  for (const [index, group] of (
    groups as Array<{ hash: string; status: string; n: number; ids: string }>
  ).entries()) {
    progress({ phase: 'artifacts', done: index, total: groups.length })
    artifacts += group.n
    artifactHashes.add(group.hash)
    const present = await blobPresent(store, group.hash)
    if (group.status === 'missing') {
      artifactsMissing += group.n
      if (present) found.restorable.set(group.hash, group.ids.split(','))
    } else if (!present) {
      const ids = stillAvailable(store, group.hash)
      if (ids.length > 0) {
        found.missingBlobs.set(group.hash, ids)
        found.problems.push({
          kind: 'blob-missing',
          message: `blob ${group.hash} of ${ids.length} artifact(s) is missing from the blob store`,
          details: { hash: group.hash, artifacts: ids },
        })
      }
    }
  }
  progress({ phase: 'artifacts', done: groups.length, total: groups.length })

  // 5. The blob files' content.
  const files: Array<{ hash: string; storedSize: number; size: number }> = []
  for await (const blob of store.blobs.list())
    files.push({ hash: blob.hash, storedSize: blob.storedSize, size: blob.size })
  found.blobFiles = files.length
  const fileHashes = new Set(files.map((file) => file.hash))
  const toVerify =
    sampled === undefined
      ? pickSample(
          files.map((file) => file.hash),
          options.sample,
          options.random ?? Math.random,
        )
      : sampled.filter((hash) => fileHashes.has(hash))
  const sizes = new Map(files.map((file) => [file.hash, Math.max(file.size, file.storedSize)]))
  const totalBytes = toVerify.reduce((sum, hash) => sum + (sizes.get(hash) ?? 0), 0)
  let bytes = 0
  for (const [index, hash] of toVerify.entries()) {
    progress({ phase: 'blobs', done: index, total: toVerify.length, bytes })
    let result: Awaited<ReturnType<typeof store.blobs.verify>>
    try {
      result = await store.blobs.verify(hash)
    } catch (error) {
      if (isHiveStorageError(error, 'NOT_FOUND')) continue // collected meanwhile
      throw error
    }
    bytes += sizes.get(hash) ?? 0
    found.verified.push(hash)
    if (!result.ok) {
      const users =
        ((await guarded('artifact', () =>
          sqlite.prepare('SELECT id FROM artifacts WHERE blob_hash = ? ORDER BY id').pluck().all(hash),
        )) as string[] | undefined) ?? []
      const problem = result.problem ?? 'content does not match its hash'
      found.corruptBlobs.set(hash, { problem, artifacts: users })
      found.problems.push({
        kind: 'blob-corrupt',
        message: `blob ${hash} is corrupt (${problem}); ${users.length} artifact(s) use it`,
        details: { hash, problem, artifacts: users },
      })
    }
  }
  progress({ phase: 'blobs', done: toVerify.length, total: toVerify.length, bytes: totalBytes })

  // 6. What nothing refers to.
  const rows =
    ((await guarded('blob row', () =>
      sqlite.prepare('SELECT hash FROM blobs ORDER BY hash').pluck().all(),
    )) as string[] | undefined) ?? []
  const rowHashes = new Set(rows)
  const unused = rows.filter((hash) => !artifactHashes.has(hash))
  const staleRows = unused.filter((hash) => !fileHashes.has(hash))
  found.staleRows = staleRows
  if (staleRows.length > 0) {
    found.problems.push({
      kind: 'blob-row-stale',
      message: `${staleRows.length} blobs row(s) name files that are gone and that no artifact uses`,
      details: { count: staleRows.length, hashes: staleRows.slice(0, 100) },
    })
  }
  found.orphans = {
    files: files
      .filter((file) => !artifactHashes.has(file.hash) && !rowHashes.has(file.hash))
      .map((file) => ({ hash: file.hash, storedSize: file.storedSize })),
    rows: unused.filter((hash) => fileHashes.has(hash)),
  }
  found.stats = {
    ...found.stats,
    artifacts,
    artifactsMissing,
    blobFiles: files.length,
    blobsVerified: found.verified.length,
  }
  return found
}

async function blobPresent(store: HiveStore, hash: string): Promise<boolean> {
  try {
    return await store.blobs.has(hash)
  } catch (error) {
    // A hash that is not one (a damaged row) names no file.
    if (isHiveStorageError(error, 'INVALID_INPUT')) return false
    throw error
  }
}

/** The artifacts of a blob still marked available (a concurrent delete and gc is not a problem). */
function stillAvailable(store: HiveStore, hash: string): string[] {
  return store.database.sqlite
    .prepare("SELECT id FROM artifacts WHERE blob_hash = ? AND status = 'available' ORDER BY id")
    .pluck()
    .all(hash) as string[]
}

/** Fixes what the inspection found, where that is safe; returns what it did. */
async function repair(
  store: HiveStore,
  found: Inspection,
  progress: ProgressListener,
  now: number,
): Promise<RepairAction[]> {
  // Writing to a damaged b-tree can spread the damage: the database is recovered first.
  if (found.corrupt) return []
  const sqlite = store.database.sqlite
  const actions: RepairAction[] = []
  const steps = 5
  progress({ phase: 'repair', done: 0, total: steps })

  // Rows are changed or deleted below: the database as it was goes to snapshots/ first.
  if (found.references.length > 0 || found.staleRows.length > 0) {
    const version =
      (sqlite.prepare('SELECT name FROM hive_migrations ORDER BY name DESC LIMIT 1').pluck().get() as
        | string
        | undefined) ?? null
    const snapshot = new SnapshotStore({ dir: store.layout.snapshots, now: () => now }).take(
      store.layout.database,
      'manual',
      version,
    )
    actions.push({
      kind: 'snapshot-taken',
      message: `snapshotted the database before changing rows: snapshots/${snapshot.name} (\`hive migrate restore --snapshot ${snapshot.name}\` undoes the repair)`,
      details: { snapshot: snapshot.name, path: snapshot.path },
    })
  }

  // Dangling references.
  if (found.references.length > 0) {
    const blobFacts = new Map<string, BlobFacts | null>()
    if (found.references.some((reference) => reference.parent === 'blobs')) {
      const hashes = sqlite
        .prepare('SELECT DISTINCT blob_hash FROM artifacts WHERE blob_hash NOT IN (SELECT hash FROM blobs)')
        .pluck()
        .all() as string[]
      for (const hash of hashes) blobFacts.set(hash, await blobFactsOf(store, hash))
    }
    actions.push(
      ...store.database.transaction(() =>
        repairDanglingReferences(sqlite, found.references, { blobFacts, now }),
      ),
    )
  }
  progress({ phase: 'repair', done: 1, total: steps })

  // Corrupt blobs: moved aside, never deleted; their artifacts say their content is missing.
  const markMissing = sqlite.prepare(
    "UPDATE artifacts SET status = 'missing' WHERE blob_hash = ? AND status = 'available'",
  )
  for (const [hash, { problem }] of found.corruptBlobs) {
    let to: string
    try {
      to = await store.blobs.quarantine(hash)
    } catch (error) {
      if (isHiveStorageError(error, 'NOT_FOUND')) continue
      throw error
    }
    actions.push({
      kind: 'blob-quarantined',
      message: `moved corrupt blob ${hash} to ${to}`,
      details: { hash, to, problem },
    })
    const artifacts = stillAvailable(store, hash)
    const marked = store.database.transaction(() => markMissing.run(hash).changes)
    if (marked > 0) {
      actions.push({
        kind: 'artifact-marked-missing',
        message: `marked ${marked} artifact(s) of corrupt blob ${hash} missing`,
        details: { hash, artifacts },
      })
    }
  }
  progress({ phase: 'repair', done: 2, total: steps })

  // Missing blobs: the artifacts say so (and their content can come back: see restorable).
  for (const hash of found.missingBlobs.keys()) {
    if (await blobPresent(store, hash)) continue // it came back meanwhile
    const artifacts = stillAvailable(store, hash)
    const marked = store.database.transaction(() => markMissing.run(hash).changes)
    if (marked > 0) {
      actions.push({
        kind: 'artifact-marked-missing',
        message: `marked ${marked} artifact(s) of missing blob ${hash} missing`,
        details: { hash, artifacts },
      })
    }
  }
  // Content that is back (restored from a backup by hand, say): verified first.
  for (const [hash, artifacts] of found.restorable) {
    const result = await store.blobs.verify(hash).catch((error) => {
      if (isHiveStorageError(error, 'NOT_FOUND')) return null
      throw error
    })
    if (!result?.ok) continue
    const restored = store.database.transaction(
      () =>
        sqlite
          .prepare("UPDATE artifacts SET status = 'available' WHERE blob_hash = ? AND status = 'missing'")
          .run(hash).changes,
    )
    if (restored > 0) {
      actions.push({
        kind: 'artifact-restored',
        message: `blob ${hash} is back and verified: ${restored} artifact(s) available again`,
        details: { hash, artifacts },
      })
    }
  }
  progress({ phase: 'repair', done: 3, total: steps })

  // Stale blobs rows: nothing refers to them and their file is gone.
  const stale = found.staleRows.filter((hash) => !found.corruptBlobs.has(hash))
  if (stale.length > 0) {
    const remove = sqlite.prepare(
      'DELETE FROM blobs WHERE hash = ? AND NOT EXISTS (SELECT 1 FROM artifacts WHERE blob_hash = blobs.hash)',
    )
    const gone: string[] = []
    for (const hash of stale) if (!(await blobPresent(store, hash))) gone.push(hash)
    const deleted = store.database.transaction(() =>
      gone.reduce((sum, hash) => sum + remove.run(hash).changes, 0),
    )
    if (deleted > 0) {
      actions.push({
        kind: 'blob-row-deleted',
        message: `deleted ${deleted} blobs row(s) whose file is gone and that no artifact uses`,
        details: { hashes: gone.slice(0, 100), count: deleted },
      })
    }
  }
  progress({ phase: 'repair', done: 4, total: steps })

  // The search index, from the rows as they are now.
  if (found.searchCorrupt !== null || (found.searchState && hasDrift(found.searchState))) {
    const documents = store.database.transaction(() => rebuildSearchIndex(sqlite))
    store.database.clearStatements()
    actions.push({
      kind: 'search-rebuilt',
      message: `rebuilt the search index from its rows: ${documents} document(s)`,
      details: { documents },
    })
  }
  progress({ phase: 'repair', done: steps, total: steps })
  return actions
}

function hasDrift(state: SearchIndexState): boolean {
  return state.missing + state.different + state.extra > 0
}

async function blobFactsOf(store: HiveStore, hash: string): Promise<BlobFacts | null> {
  try {
    const info = await store.blobs.stat(hash)
    return { size: info.size, storedSize: info.storedSize, encoding: info.encoding }
  } catch (error) {
    if (isHiveStorageError(error, 'NOT_FOUND', 'BLOB_CORRUPT', 'INVALID_INPUT')) return null
    throw error
  }
}
