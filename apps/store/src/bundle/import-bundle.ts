import { randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { BlobStore } from '@hive/blobs'
import { HiveStorageError, isHiveStorageError, parseInput } from '@hive/errors'
import { HISTORY_TABLE, HIVE_MIGRATION_NAMES } from '@hive/migrations'
import { ID_PREFIXES, ids, TABLES } from '@hive/schema'
import type BetterSqlite3 from 'better-sqlite3'
import { z } from 'zod'
import { trackOperation } from '../operations/track-operation.js'
import { fanOut, type ProgressListener, reporter } from '../progress.js'
import type { HiveStore } from '../store.js'
import { bundleEntry, rowsPath } from './bundle-entry.js'
import { bundleInvalid } from './bundle-invalid.js'
import {
  BUNDLE_FORMAT,
  BUNDLE_FORMAT_VERSION,
  type BundleManifest,
  bundleManifestSchema,
} from './bundle-manifest.js'
import { BUNDLE_TABLES, type BundleTable, type BundleTableName } from './bundle-tables.js'
import { ioError } from './io-error.js'
import { jsonLines } from './json-lines.js'
import { type StagedBundle, type StagedEntry, stageBundle } from './stage-bundle.js'

/** What an import does with a row whose key the store already has. */
export const CONFLICT_POLICIES = ['skip', 'overwrite', 'rename'] as const
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number]

export interface ImportBundleOptions {
  /** The bundle: a file path, or a stream of its bytes. */
  readonly input: string | NodeJS.ReadableStream
  /**
   * `skip` (the default) keeps rows the store has and adds the others: importing a bundle again
   * changes nothing. `overwrite` replaces rows the store has with the bundle's. `rename` imports
   * a copy: every cell and everything in it gets a fresh id, references follow.
   */
  readonly onConflict?: ConflictPolicy
  /** The largest entry accepted (default 4 GiB): a bundle with a larger one is refused. */
  readonly maxEntryBytes?: number
  readonly onProgress?: ProgressListener
}

/** What happened to the rows of one table. */
export interface TableOutcome {
  /** New rows, under their own ids. */
  inserted: number
  /** Rows the store had already (under `overwrite`: with the same content), left as they were. */
  skipped: number
  /** Rows the store had, replaced by the bundle's. */
  overwritten: number
  /** Rows added under fresh ids (`rename`). */
  renamed: number
}

export interface ImportBundleResult {
  readonly onConflict: ConflictPolicy
  readonly formatVersion: number
  /** The schema the bundle's rows were written in. */
  readonly schemaVersion: string
  readonly scope: BundleManifest['scope']
  readonly tables: Readonly<Record<BundleTableName, Readonly<TableOutcome>>>
  /**
   * Blob files: stored now, or already in the store; blobs whose content neither the bundle nor
   * the store has (their artifacts are all marked missing: written as rows only); and the content
   * bytes of the blobs stored or present.
   */
  readonly blobs: {
    readonly stored: number
    readonly present: number
    readonly missing: number
    readonly bytes: number
  }
  /** The bundle's cells and their ids in this store (new ones under `rename`). */
  readonly cells: ReadonlyArray<{ readonly bundleId: string; readonly id: string }>
}

const optionsSchema = z
  .object({
    onConflict: z.enum(CONFLICT_POLICIES).default('skip'),
    maxEntryBytes: z
      .int()
      .positive()
      .max(2 ** 50)
      .default(4 * 1024 ** 3),
  })
  .strict()

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024
/** A row is at most a few MiB of JSON (a part or message object is at most 1 MiB, escaped). */
const MAX_LINE_BYTES = 32 * 1024 * 1024
const ID_MENTION = new RegExp(`\\b(?:${Object.values(ID_PREFIXES).join('|')})_[0-9A-Za-z]{1,64}\\b`, 'g')

type Row = Record<string, unknown>

/**
 * Imports a bundle written by {@link exportBundle}. The whole bundle is read once into a staging
 * directory inside the data directory and validated before anything is written: every entry's
 * SHA-256 against the manifest, unsafe entries (absolute paths, `..`, links, devices, oversized
 * files, duplicates), the format and schema versions, every row against the schema, references
 * between rows, and every blob file against its hash. Then the blobs are stored, and all rows are
 * written in one SQLite transaction: the import happens entirely or not at all, and the staging
 * directory is removed either way. The search index follows the rows (the database's triggers).
 * A blob row may come without its file only if every artifact of the bundle that uses it is
 * marked missing (as `hive check --repair` leaves them): its row is written as the bundle has it,
 * and no file is stored.
 *
 * @example
 * ```ts
 * const result = await importBundle(store, { input: 'cell.hive.tar', onConflict: 'rename' })
 * console.log(result.tables.cells.renamed, result.cells[0]?.id)
 * ```
 */
export async function importBundle(
  store: HiveStore,
  options: Parameters<typeof importBundleUntracked>[1],
): ReturnType<typeof importBundleUntracked> {
  return trackOperation(
    store,
    `import.${options?.onConflict ?? 'skip'}`,
    (progress) =>
      importBundleUntracked(store, {
        ...options,
        onProgress: fanOut(progress, options?.onProgress),
      } as typeof options),
    (result) => result,
  )
}

/** {@link importBundle} without its operation record. */
async function importBundleUntracked(
  store: HiveStore,
  options: ImportBundleOptions,
): Promise<ImportBundleResult> {
  const config = parseInput(
    optionsSchema,
    {
      ...(options.onConflict === undefined ? {} : { onConflict: options.onConflict }),
      ...(options.maxEntryBytes === undefined ? {} : { maxEntryBytes: options.maxEntryBytes }),
    },
    'import options',
  )
  const progress = reporter(options.onProgress)
  const { input, size } = await openInput(options.input)
  const staging = join(store.layout.root, 'tmp', `import-${randomUUID()}`)
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 })
  } catch (error) {
    input.destroy?.()
    throw ioError(error, `cannot create ${staging}`, staging)
  }
  try {
    const staged = await stageBundle(input, staging, {
      maxEntryBytes: config.maxEntryBytes,
      maxManifestBytes: MAX_MANIFEST_BYTES,
      onBytes: (bytes) =>
        progress({ phase: 'reading', done: bytes, bytes, ...(size === undefined ? {} : { total: size }) }),
    })
    const manifest = readManifest(staged.manifest)
    const storeVersion = currentSchemaVersion(store.database.sqlite)
    const olderSchema = checkSchemaVersion(manifest.schemaVersion, storeVersion)
    checkEntries(manifest, staged)
    const plan = await validateRows(staged, manifest, config.onConflict, olderSchema, progress)
    const blobStore = new BlobStore({ root: join(staging, 'blobs'), durable: false })
    const absent = await verifyBlobs(blobStore, staged, plan, progress)

    // Everything checked: now the store changes. Blobs first, so no row ever names a missing one
    // (but those of artifacts marked missing, which the bundle has no content of).
    const blobs = await storeBlobs(store, blobStore, plan.blobs, absent, progress)
    const tables = await writeRows(store, staged, plan, blobs.files, progress)
    store.invalidateCaches()
    return {
      onConflict: config.onConflict,
      formatVersion: manifest.formatVersion,
      schemaVersion: manifest.schemaVersion,
      scope: manifest.scope,
      tables,
      blobs: { stored: blobs.stored, present: blobs.present, missing: blobs.missing, bytes: blobs.bytes },
      cells: plan.cells.map((bundleId) => ({ bundleId, id: plan.ids.get(bundleId) ?? bundleId })),
    }
  } finally {
    await rm(staging, { recursive: true, force: true })
  }
}

type Input = NodeJS.ReadableStream & { destroy?(): void }

/** The bundle as a stream, and its size when it is a file. */
async function openInput(input: string | NodeJS.ReadableStream): Promise<{ input: Input; size?: number }> {
  if (typeof input !== 'string') return { input: input as Input }
  const path = resolve(input)
  let size: number | undefined
  try {
    const info = await stat(path)
    if (info.isDirectory()) {
      throw new HiveStorageError('INVALID_INPUT', `${path} is a directory, not a bundle`, { value: path })
    }
    if (info.isFile()) size = info.size
  } catch (error) {
    throw ioError(error, `cannot read the bundle ${path}`, path)
  }
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 })
  return size === undefined ? { input: stream } : { input: stream, size }
}

function readManifest(bytes: Buffer | undefined): BundleManifest {
  if (bytes === undefined) throw bundleInvalid('it has no manifest.json (is it a Hive bundle?)')
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    throw bundleInvalid('manifest.json is not JSON', undefined, error)
  }
  const head = (value ?? {}) as { format?: unknown; formatVersion?: unknown }
  if (head.format !== BUNDLE_FORMAT) {
    throw bundleInvalid(`manifest.json is not a Hive bundle's (format ${JSON.stringify(head.format)})`)
  }
  if (head.formatVersion !== BUNDLE_FORMAT_VERSION) {
    throw bundleInvalid(
      `it is in bundle format version ${JSON.stringify(head.formatVersion)}, and this Hive reads version ${BUNDLE_FORMAT_VERSION}`,
      head.formatVersion,
    )
  }
  const parsed = bundleManifestSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw bundleInvalid(`manifest.json: ${issue?.path.join('.') || 'manifest'}: ${issue?.message}`)
  }
  return parsed.data
}

function currentSchemaVersion(sqlite: BetterSqlite3.Database): string {
  const name = sqlite.prepare(`SELECT name FROM ${HISTORY_TABLE} ORDER BY name DESC LIMIT 1`).pluck().get()
  if (typeof name !== 'string') throw new HiveStorageError('INTERNAL', 'the store has no applied migrations')
  return name
}

/** Refuses a bundle of a newer schema than the store's; returns whether it is of an older one. */
function checkSchemaVersion(bundle: string, current: string): boolean {
  const at = HIVE_MIGRATION_NAMES.indexOf(bundle)
  const here = HIVE_MIGRATION_NAMES.indexOf(current)
  if (at < 0 || at > here) {
    throw bundleInvalid(
      `it was written at schema ${bundle}, newer than this store's ${current}: import it with a newer Hive`,
      bundle,
    )
  }
  return at < here
}

/** Every entry the manifest lists is there, unchanged; nothing else is. */
function checkEntries(manifest: BundleManifest, staged: StagedBundle): void {
  const listed = new Set<string>()
  for (const { path, size, sha256 } of manifest.entries) {
    const entry = bundleEntry(path)
    if (entry.kind !== 'rows' && entry.kind !== 'blob') throw bundleInvalid(`manifest.json lists ${path}`)
    if (listed.has(path)) throw bundleInvalid(`manifest.json lists ${path} twice`, path)
    listed.add(path)
    const found = staged.entries.get(path)
    if (!found) throw bundleInvalid(`${path}, listed in manifest.json, is missing`, path)
    if (found.size !== size || found.sha256 !== sha256) {
      throw bundleInvalid(
        `${path} does not match its SHA-256 in manifest.json: it was changed or damaged after the export`,
        path,
      )
    }
  }
  for (const path of staged.entries.keys()) {
    if (!listed.has(path)) throw bundleInvalid(`${path} is not listed in manifest.json`, path)
  }
  const blobFiles = [...staged.entries.values()].filter((e) => e.entry.kind === 'blob').length
  if (blobFiles !== manifest.blobs) {
    throw bundleInvalid(`manifest.json counts ${manifest.blobs} blob files, and the bundle has ${blobFiles}`)
  }
}

/** What validation learnt, for the writing phase. */
interface ImportPlan {
  readonly policy: ConflictPolicy
  readonly olderSchema: boolean
  /** Bundle id → id in the store: fresh ids (`rename`), and workspaces matched by root path. */
  readonly ids: Map<string, string>
  /** Blob rows of the bundle: hash → content size. */
  readonly blobs: Map<string, number>
  /**
   * Blobs that artifacts of the bundle use, all of them marked missing (none available): the only
   * ones whose row may come without a file.
   */
  readonly missingOnly: Set<string>
  /** The bundle's cell ids. */
  readonly cells: string[]
  readonly totalRows: number
}

/** A zod schema of one table's bundle rows: every column but `rid`, nothing else. */
function rowSchema(table: BundleTable) {
  const definition = TABLES[table.name]
  const omitted = Object.fromEntries(definition.generated.map((column) => [column, true]))
  return definition.row.omit(omitted as never).strict()
}

/**
 * Reads every row once: JSON, the table's schema, keys in strictly increasing order (as exports
 * write them, which also rules out duplicates), counts against the manifest, and references that
 * must resolve inside the bundle. Under `rename`, every row's new id is drawn here, in the
 * bundle's (creation) order, so new ids sort as the old ones did.
 */
async function validateRows(
  staged: StagedBundle,
  manifest: BundleManifest,
  policy: ConflictPolicy,
  olderSchema: boolean,
  progress: ProgressListener,
): Promise<ImportPlan> {
  const referenced = new Set(
    BUNDLE_TABLES.flatMap((t) => t.references.flatMap((r) => (r.table ? [r.table] : []))),
  )
  const keys = new Map<BundleTableName, Set<string>>()
  const pending: Array<{ table: BundleTableName; where: string; value: string }> = []
  const plan: ImportPlan = {
    policy,
    olderSchema,
    ids: new Map(),
    blobs: new Map(),
    missingOnly: new Set(),
    cells: [],
    totalRows: 0,
  }
  /** Blobs by whether an artifact of the bundle needs their content, or is marked missing. */
  const needed = new Set<string>()
  const markedMissing = new Set<string>()
  let done = 0
  for (const table of BUNDLE_TABLES) {
    const path = rowsPath(table.name)
    const staging = staged.entries.get(path)
    const expected = manifest.counts[table.name]
    if (!staging) {
      if (expected > 0)
        throw bundleInvalid(`${path} is missing (manifest.json counts ${expected} rows)`, path)
      continue
    }
    const schema = rowSchema(table)
    const own = referenced.has(table.name) ? new Set<string>() : undefined
    if (own) keys.set(table.name, own)
    let previous: string[] | undefined
    let line = 0
    for (const text of jsonLines(staging.file, path, MAX_LINE_BYTES)) {
      line += 1
      const where = `${path} line ${line}`
      const row = parseRow(text, where, olderSchema, table)
      const parsed = schema.safeParse(row)
      if (!parsed.success) {
        const issue = parsed.error.issues[0]
        throw bundleInvalid(`${where}: ${issue?.path.join('.') || 'row'}: ${issue?.message}`, row)
      }
      const key = table.key.map((column) => row[column] as string)
      if (previous && compareKeys(previous, key) >= 0) {
        throw bundleInvalid(`${where}: its key is out of order or repeated (${key.join(', ')})`, key)
      }
      previous = key
      own?.add(key[0] as string)
      for (const reference of table.references) {
        const value = row[reference.column]
        if (typeof value !== 'string' || !reference.table) continue
        const targets = keys.get(reference.table)
        if (reference.table === table.name || !targets) pending.push({ table: reference.table, where, value })
        else if (!targets.has(value)) throw dangling(where, reference.column, value)
      }
      if (table.name === 'blobs') plan.blobs.set(row.hash as string, row.size as number)
      if (table.name === 'artifacts') {
        ;(row.status === 'missing' ? markedMissing : needed).add(row.blob_hash as string)
      }
      if (table.name === 'cells') plan.cells.push(row.id as string)
      if (policy === 'rename' && table.id) plan.ids.set(row[table.id.column] as string, ids[table.id.kind]())
      done += 1
      if (done % 2000 === 0) {
        progress({ phase: 'validating', done })
        await new Promise<void>((resolve) => setImmediate(resolve))
      }
    }
    if (line !== expected) {
      throw bundleInvalid(`${path} has ${line} rows, and manifest.json counts ${expected}`, path)
    }
  }
  for (const { table, where, value } of pending) {
    if (!keys.get(table)?.has(value)) throw dangling(where, table, value)
  }
  for (const hash of markedMissing) if (!needed.has(hash)) plan.missingOnly.add(hash)
  progress({ phase: 'validating', done, total: done })
  return { ...plan, totalRows: done }
}

function parseRow(text: string, where: string, olderSchema: boolean, table: BundleTable): Row {
  let row: unknown
  try {
    row = JSON.parse(text)
  } catch {
    throw bundleInvalid(`${where} is not JSON`)
  }
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw bundleInvalid(`${where} is not a JSON object`)
  }
  // Columns added by later migrations are nullable: a bundle of an older schema has none there.
  if (olderSchema) for (const column of table.columns) (row as Row)[column] ??= null
  return row as Row
}

function dangling(where: string, what: string, value: string) {
  return bundleInvalid(`${where}: ${what} ${value} is not in the bundle`, value)
}

function compareKeys(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as string
    const y = b[i] as string
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/**
 * Each blob row has its file (but those whose artifacts are all marked missing may have none) and
 * each file its row; each file's content matches its name. Returns the blobs without a file.
 */
async function verifyBlobs(
  blobStore: BlobStore,
  staged: StagedBundle,
  plan: ImportPlan,
  progress: ProgressListener,
): Promise<Set<string>> {
  const { blobs, missingOnly } = plan
  const files = new Map<string, StagedEntry>()
  for (const staging of staged.entries.values()) {
    if (staging.entry.kind !== 'blob') continue
    const { hash } = staging.entry
    if (files.has(hash)) throw bundleInvalid(`blob ${hash} is in the bundle twice`, hash)
    if (!blobs.has(hash))
      throw bundleInvalid(`blob file ${staging.entry.path} has no row in rows/blobs.jsonl`, hash)
    files.set(hash, staging)
  }
  const absent = new Set<string>()
  let done = 0
  let bytes = 0
  for (const [hash, size] of blobs) {
    if (!files.has(hash)) {
      if (!missingOnly.has(hash)) {
        throw bundleInvalid(
          `blob ${hash} of rows/blobs.jsonl has no file in the bundle (only a blob whose artifacts are all marked missing may have none)`,
          hash,
        )
      }
      absent.add(hash)
      continue
    }
    try {
      const content = await blobStore.open(hash)
      if (content.size !== size) {
        throw bundleInvalid(`blob ${hash} holds ${content.size} bytes, and its row says ${size}`, hash)
      }
      for await (const _chunk of content.stream()) {
        // Reading is the check: the stream fails before its end if the content is not its hash.
      }
    } catch (error) {
      if (isHiveStorageError(error, 'BLOB_CORRUPT')) {
        throw bundleInvalid(`blob ${hash} does not match its hash (${error.message})`, hash, error)
      }
      throw error
    }
    done += 1
    bytes += size
    progress({ phase: 'verifying blobs', done, total: files.size, bytes })
  }
  return absent
}

interface StoredBlob {
  readonly storedSize: number
  readonly encoding: 'lz4-frames' | 'raw'
}

/**
 * Puts the bundle's blobs into the store (those it lacks), as the blob store writes them. Blobs
 * `absent` from the bundle (their artifacts are marked missing) are not stored: the store's file,
 * if it has one, is used; else they get no file, and no entry in the map returned.
 */
async function storeBlobs(
  store: HiveStore,
  blobStore: BlobStore,
  blobs: ReadonlyMap<string, number>,
  absent: ReadonlySet<string>,
  progress: ProgressListener,
): Promise<{
  files: Map<string, StoredBlob>
  stored: number
  present: number
  missing: number
  bytes: number
}> {
  const files = new Map<string, StoredBlob>()
  let stored = 0
  let present = 0
  let missing = 0
  let bytes = 0
  for (const [hash, size] of blobs) {
    // Claimed, not merely found: a gc sweeping meanwhile keeps it (or it is stored again).
    if (await store.blobs.claim(hash)) {
      const info = await store.blobs.stat(hash)
      files.set(hash, { storedSize: info.storedSize, encoding: info.encoding })
      present += 1
    } else if (absent.has(hash)) {
      missing += 1
      progress({ phase: 'storing blobs', done: stored + present + missing, total: blobs.size, bytes })
      continue
    } else {
      const content = await blobStore.open(hash)
      const result = await store.blobs.put(content.stream())
      if (result.hash !== hash) {
        throw new HiveStorageError('INTERNAL', `blob ${hash} was stored as ${result.hash}`, { value: hash })
      }
      files.set(hash, { storedSize: result.storedSize, encoding: result.encoding })
      stored += 1
    }
    bytes += size
    progress({ phase: 'storing blobs', done: stored + present + missing, total: blobs.size, bytes })
  }
  return { files, stored, present, missing, bytes }
}

/** Writes every row in one transaction, following the conflict policy. */
async function writeRows(
  store: HiveStore,
  staged: StagedBundle,
  plan: ImportPlan,
  blobs: ReadonlyMap<string, StoredBlob>,
  progress: ProgressListener,
): Promise<Record<BundleTableName, TableOutcome>> {
  const sqlite = store.database.sqlite
  const outcomes = Object.fromEntries(
    BUNDLE_TABLES.map((t) => [t.name, { inserted: 0, skipped: 0, overwritten: 0, renamed: 0 }]),
  ) as Record<BundleTableName, TableOutcome>
  await store.database.writeTransaction(() => {
    // Rows are written parents first, but a message names its artifact (written later) and a
    // session may name a parent written after it: foreign keys are checked at commit.
    sqlite.pragma('defer_foreign_keys = ON')
    let done = 0
    for (const table of BUNDLE_TABLES) {
      const path = rowsPath(table.name)
      const staging = staged.entries.get(path)
      if (!staging) continue
      const writer = new TableWriter(sqlite, table, plan, blobs, outcomes[table.name])
      let line = 0
      for (const text of jsonLines(staging.file, path, MAX_LINE_BYTES)) {
        line += 1
        const row = parseRow(text, path, plan.olderSchema, table)
        try {
          writer.write(row)
        } catch (error) {
          throw describeFailure(error, `${path} line ${line}`)
        }
        done += 1
        if (done % 1000 === 0) progress({ phase: 'writing', done, total: plan.totalRows })
      }
    }
    progress({ phase: 'writing', done, total: plan.totalRows })
  })
  return outcomes
}

function describeFailure(error: unknown, where: string): unknown {
  const code = (error as { code?: unknown })?.code
  if (typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) return error
  const taken = code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  return new HiveStorageError(
    'CONFLICT',
    `cannot import ${where}: ${(error as Error).message}${taken ? ' (the store has another row in its place: --on-conflict rename imports a copy)' : ''}`,
    { cause: error, value: where },
  )
}

/** Writes the rows of one table: remaps ids, then inserts, skips or overwrites each. */
class TableWriter {
  readonly #table: BundleTable
  readonly #plan: ImportPlan
  readonly #blobs: ReadonlyMap<string, StoredBlob>
  readonly #outcome: TableOutcome
  readonly #find: BetterSqlite3.Statement
  readonly #insert: BetterSqlite3.Statement
  readonly #update: BetterSqlite3.Statement | undefined
  readonly #byRootPath: BetterSqlite3.Statement | undefined
  readonly #externalTaken: BetterSqlite3.Statement | undefined

  constructor(
    sqlite: BetterSqlite3.Database,
    table: BundleTable,
    plan: ImportPlan,
    blobs: ReadonlyMap<string, StoredBlob>,
    outcome: TableOutcome,
  ) {
    this.#table = table
    this.#plan = plan
    this.#blobs = blobs
    this.#outcome = outcome
    const { name, columns, key } = table
    const match = key.map((column) => `${column} = @${column}`).join(' AND ')
    this.#find = sqlite.prepare(`SELECT ${columns.join(', ')} FROM ${name} WHERE ${match}`)
    this.#insert = sqlite.prepare(
      `INSERT INTO ${name} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`,
    )
    const changed = columns.filter((column) => !key.includes(column))
    this.#update =
      changed.length === 0
        ? undefined
        : sqlite.prepare(`UPDATE ${name} SET ${changed.map((c) => `${c} = @${c}`).join(', ')} WHERE ${match}`)
    if (name === 'workspaces')
      this.#byRootPath = sqlite.prepare(`SELECT id FROM workspaces WHERE root_path = ?`)
    if (name === 'sessions') {
      this.#externalTaken = sqlite.prepare('SELECT 1 FROM sessions WHERE provider = ? AND external_id = ?')
    }
  }

  write(bundleRow: Row): void {
    const table = this.#table
    const row = this.#remap(bundleRow)
    if (table.name === 'blobs') {
      // Content-addressed: a blob the store has is the same blob. The row describes the file here;
      // one that neither has (its artifacts are marked missing) keeps the bundle's description.
      const file = this.#blobs.get(row.hash as string)
      if (file) {
        row.stored_size = file.storedSize
        row.encoding = file.encoding
      }
      if (this.#find.get(row)) this.#outcome.skipped += 1
      else {
        this.#insert.run(row)
        this.#outcome.inserted += 1
      }
      return
    }
    if (table.name === 'workspaces') {
      // A workspace is a repository on disk: one by its root path is the same one, whatever its id.
      const other = this.#byRootPath?.get(row.root_path) as { id: string } | undefined
      if (other && other.id !== row.id && !this.#find.get(row)) {
        this.#plan.ids.set(row.id as string, other.id)
        row.id = other.id
      }
    }
    const renaming = this.#plan.policy === 'rename' && table.name !== 'workspaces'
    if (renaming) {
      if (table.name === 'sessions' && row.external_id !== null) {
        // The provider's session belongs to the original; the copy does not claim it.
        if (this.#externalTaken?.get(row.provider, row.external_id)) row.external_id = null
      }
      this.#insert.run(row)
      this.#outcome.renamed += 1
      return
    }
    const existing = this.#find.get(row) as Row | undefined
    if (!existing) {
      this.#insert.run(row)
      this.#outcome.inserted += 1
      return
    }
    if (this.#plan.policy !== 'overwrite' || table.columns.every((c) => existing[c] === row[c])) {
      this.#outcome.skipped += 1
      return
    }
    if (
      table.name === 'cells' &&
      (existing.workspace_id !== row.workspace_id || existing.type !== row.type)
    ) {
      throw new HiveStorageError(
        'CONFLICT',
        `cell ${row.id} is in workspace ${existing.workspace_id} as ${existing.type} here, and in ${row.workspace_id} as ${row.type} in the bundle: a cell cannot move (import a copy with --on-conflict rename)`,
        { value: row.id },
      )
    }
    this.#update?.run(row)
    this.#outcome.overwritten += 1
  }

  /** The row with the ids of this import: fresh ones (`rename`), matched workspaces. */
  #remap(bundleRow: Row): Row {
    const ids = this.#plan.ids
    if (ids.size === 0) return bundleRow
    const row = { ...bundleRow }
    const table = this.#table
    if (table.id) row[table.id.column] = ids.get(row[table.id.column] as string) ?? row[table.id.column]
    for (const reference of table.references) {
      const value = row[reference.column]
      if (reference.kind && typeof value === 'string') row[reference.column] = ids.get(value) ?? value
    }
    for (const column of table.mentions) {
      const value = row[column]
      if (typeof value === 'string') row[column] = value.replace(ID_MENTION, (id) => ids.get(id) ?? id)
    }
    return row
  }
}
