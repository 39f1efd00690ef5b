/**
 * What a check can find:
 * - `database-unreadable`: the database does not open (`NOT_A_DATABASE`, `DATABASE_CORRUPT`).
 * - `database-corrupt`: `quick_check` / `integrity_check` found damage, or a check stopped on it.
 * - `foreign-key`: rows that refer to a row that does not exist.
 * - `search-index-corrupt`: FTS5's own check of the search index failed.
 * - `search-index-stale`: the index's documents differ from the rows they come from.
 * - `blob-missing`: an available artifact whose blob file is gone.
 * - `blob-corrupt`: a blob file whose content does not match its hash (or is malformed).
 * - `blob-row-stale`: a `blobs` row that no artifact uses, whose file is gone.
 */
export type CheckProblemKind =
  | 'database-unreadable'
  | 'database-corrupt'
  | 'foreign-key'
  | 'search-index-corrupt'
  | 'search-index-stale'
  | 'blob-missing'
  | 'blob-corrupt'
  | 'blob-row-stale'

/** One problem: its kind, a one-line message, and the details that identify what is affected. */
export interface CheckProblem {
  readonly kind: CheckProblemKind
  readonly message: string
  readonly details: Readonly<Record<string, unknown>>
}

/**
 * What a repair did:
 * - `snapshot-taken`: the database was snapshotted (`snapshots/`) before rows were changed.
 * - `search-rebuilt`: the search index was rebuilt from its source rows.
 * - `blob-quarantined`: a corrupt blob file was moved to `quarantine/blobs/`.
 * - `artifact-marked-missing`: artifacts whose content is gone or corrupt now say so.
 * - `artifact-restored`: artifacts marked missing whose content is back (and verified).
 * - `blob-row-created`: a `blobs` row recreated for artifacts that referred to none.
 * - `blob-row-deleted`: a stale `blobs` row removed.
 * - `workspace-recreated`: a placeholder for a lost workspace that cells still refer to.
 * - `reference-cleared`: references to lost rows set to NULL (the schema's `ON DELETE SET NULL`).
 * - `rows-deleted`: rows whose parent is lost deleted (the schema's `ON DELETE CASCADE`).
 */
export type RepairKind =
  | 'snapshot-taken'
  | 'search-rebuilt'
  | 'blob-quarantined'
  | 'artifact-marked-missing'
  | 'artifact-restored'
  | 'blob-row-created'
  | 'blob-row-deleted'
  | 'workspace-recreated'
  | 'reference-cleared'
  | 'rows-deleted'

export interface RepairAction {
  readonly kind: RepairKind
  readonly message: string
  readonly details: Readonly<Record<string, unknown>>
}

/** Blob files and `blobs` rows that nothing refers to: garbage that `gc` collects, not problems. */
export interface CheckOrphans {
  /** Blob files that no artifact and no `blobs` row names. */
  readonly files: ReadonlyArray<{ readonly hash: string; readonly storedSize: number }>
  /** `blobs` rows (with a file) that no artifact uses. */
  readonly rows: readonly string[]
}

export interface CheckStats {
  readonly artifacts: number
  /** Artifacts marked missing (their content was lost before, and reported then). */
  readonly artifactsMissing: number
  readonly blobFiles: number
  /** Blob files whose content was read and checked against its hash. */
  readonly blobsVerified: number
  readonly searchDocuments: number
}

/** The result of {@link checkStore}: `ok` when no problem remains. */
export interface CheckReport {
  readonly ok: boolean
  readonly dataDir: string
  /** `integrity_check` (true) or `quick_check`. */
  readonly full: boolean
  /** Blobs verified: all of them, or a sample. */
  readonly sample: { readonly verified: number; readonly of: number } | 'all'
  /** Problems that remain (after the repair, when one ran). */
  readonly problems: readonly CheckProblem[]
  /** With `repair`: the problems found before repairing. Otherwise the same as `problems`. */
  readonly found: readonly CheckProblem[]
  /** What the repair did (empty without `repair`). */
  readonly repaired: readonly RepairAction[]
  readonly orphans: CheckOrphans
  readonly stats: CheckStats
  readonly durationMs: number
}
