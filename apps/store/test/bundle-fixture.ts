import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ids } from '@hive/schema'
import Sqlite from 'better-sqlite3'
import tar from 'tar-stream'
import { afterAll } from 'vitest'
import { BUNDLE_TABLES, type HiveStore, openHiveStore } from '../src/index.js'

/** Words that appear once in the seeded data, to find it again through search. */
export const WORDS = {
  cell: 'zanzibar',
  part: 'quixotically',
  tool: 'flibbertigibbet',
  plan: 'marmalade',
} as const

export interface Seeded {
  readonly workspaceId: string
  /** The cells of the workspace exported: a planning cell and the implementation it plans. */
  readonly planning: string
  readonly implementation: string
  /** A cell of another workspace, never exported with the first. */
  readonly other: string
  readonly sessionId: string
  /** The tool part whose large output went to an artifact. */
  readonly spilledPartId: string
  readonly spilledMessageId: string
  readonly toolOutput: string
}

/** A temporary directory for a whole test file (`tempDir` is per test), removed after it. */
export function suiteDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hive-bundle-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Opens (creating) a store in `dataDir`. */
export function openStore(dataDir: string): Promise<HiveStore> {
  return openHiveStore({ dataDir, create: true, migrate: 'auto', cache: false })
}

/**
 * Fills a store through its services with every kind of row a bundle carries: two linked cells
 * with provisioning, a service, plans with feedback, a session whose transcript has a tool output
 * large enough to go to an artifact and a message whose info did too, artifacts (compressible and
 * not), events and metrics; and a cell of another workspace.
 */
export async function seed(store: HiveStore): Promise<Seeded> {
  const s = store.services
  const workspace = await s.workspaces.create({ name: 'Hive', rootPath: '/repos/hive' })
  const elsewhere = await s.workspaces.create({ name: 'Other', rootPath: '/repos/other' })
  const planning = await s.cells.create({
    workspaceId: workspace.id,
    name: 'Plan the login fix',
    description: `Planning cell, ${WORDS.cell}`,
    type: 'planning',
    metadata: { owner: 'ana', tags: ['auth'] },
  })
  const implementation = await s.cells.create({
    workspaceId: workspace.id,
    name: 'Fix login',
    type: 'implementation',
    branchName: 'fix/login',
    baseCommit: 'abcdef1234567',
  })
  const other = await s.cells.create({ workspaceId: elsewhere.id, name: 'Elsewhere', type: 'manual' })
  await s.cells.setStatus(implementation.id, 'provisioning')
  await s.cells.setProvisioning({ cellId: implementation.id, attemptCount: 1, startMode: 'plan' })
  await s.cells.upsertService({
    cellId: implementation.id,
    name: 'web',
    type: 'process',
    command: 'pnpm dev',
    port: 5173,
    env: { NODE_ENV: 'development' },
  })
  await s.cells.link({ fromCellId: planning.id, toCellId: implementation.id, type: 'plans' })
  const plan = await s.plans.add({ cellId: planning.id, content: `# Plan\n\nSpread the ${WORDS.plan}.` })
  await s.plans.addFeedback({ planId: plan.id, source: 'human', content: 'Looks good' })
  await s.plans.add({ cellId: planning.id, content: '# Plan v2\n\nNow with tests.' })

  const session = await s.sessions.create({
    cellId: implementation.id,
    externalId: 'ses_opencode0001',
    title: 'Fix the login',
  })
  const child = await s.sessions.create({
    cellId: implementation.id,
    parentSessionId: session.id,
    title: 'Subtask',
    mode: 'plan',
  })
  const ref = { cellId: implementation.id, sessionId: session.id }
  const created = Date.now()
  const user = ids.message()
  await s.transcripts.append(ref, {
    info: { id: user, role: 'user', time: { created } },
    parts: [{ id: ids.part(), messageID: user, type: 'text', text: `Please fix it ${WORDS.part}` }],
  })
  const assistant = ids.message()
  const toolOutput = `${WORDS.tool}\n${'test output line\n'.repeat(8000)}`
  const spilledPartId = ids.part()
  await s.transcripts.append(ref, {
    info: {
      id: assistant,
      role: 'assistant',
      parentID: user,
      time: { created: created + 1, completed: created + 5 },
      modelID: 'model-x',
      providerID: 'provider-y',
      tokens: { input: 10, output: 20, reasoning: 3, cache: { read: 1, write: 2 } },
      cost: 0.25,
    },
    parts: [
      { id: ids.part(), messageID: assistant, type: 'reasoning', text: 'Thinking about the session cookie' },
      {
        id: spilledPartId,
        messageID: assistant,
        type: 'tool',
        tool: 'bash',
        state: { status: 'completed', title: 'run the tests', output: toolOutput },
      },
      { id: ids.part(), messageID: assistant, type: 'text', text: 'Done.' },
    ],
  })
  // A message whose info is too large to keep inline: it goes to an artifact as a whole.
  const summary = ids.message()
  await s.transcripts.append(ref, {
    info: {
      id: summary,
      role: 'assistant',
      parentID: assistant,
      time: { created: created + 6, completed: created + 7 },
      system: 'system prompt '.repeat(6000),
    },
    parts: [{ id: ids.part(), messageID: summary, type: 'text', text: 'Summary' }],
  })
  await s.transcripts.append(
    { cellId: implementation.id, sessionId: child.id },
    {
      info: { id: ids.message(), role: 'user', time: { created: created + 8 } },
      parts: [],
    },
  )
  await s.artifacts.put(
    {
      cellId: implementation.id,
      sessionId: session.id,
      type: 'log',
      name: 'build.log',
      summary: 'the build log',
    },
    'compiling…\n'.repeat(5000),
  )
  await s.artifacts.put(
    { cellId: implementation.id, type: 'file', name: 'noise.bin', contentType: 'application/octet-stream' },
    randomBytes(50_000),
  )
  // The same content twice: one blob, two artifacts.
  await s.artifacts.put({ cellId: planning.id, type: 'plan', name: 'plan.md' }, 'same content')
  await s.artifacts.put({ cellId: implementation.id, type: 'plan', name: 'plan-copy.md' }, 'same content')
  await s.artifacts.put({ cellId: other.id, type: 'log', name: 'other.log' }, 'not exported')
  await s.timeline.record({
    cellId: implementation.id,
    sessionId: session.id,
    type: 'agent.note',
    source: 'agent',
    payload: { cellId: implementation.id, messageId: assistant },
  })
  await s.metrics.record({
    cellId: implementation.id,
    sessionId: session.id,
    name: 'agent.retries',
    value: 2,
    unit: 'count',
    tags: { model: 'model-x' },
  })
  await s.metrics.record({ cellId: planning.id, name: 'cell.setup_ms', value: 1234.5 })
  return {
    workspaceId: workspace.id,
    planning: planning.id,
    implementation: implementation.id,
    other: other.id,
    sessionId: session.id,
    spilledPartId,
    spilledMessageId: summary,
    toolOutput,
  }
}

/** Rows of every table a bundle carries, without `rid`, in key order. */
export function bundleRows(dataDir: string): Record<string, unknown[]> {
  const db = new Sqlite(join(dataDir, 'hive.db'), { readonly: true })
  try {
    return Object.fromEntries(
      BUNDLE_TABLES.map((t) => [
        t.name,
        db.prepare(`SELECT ${t.columns.join(', ')} FROM ${t.name} ORDER BY ${t.key.join(', ')}`).all(),
      ]),
    )
  } finally {
    db.close()
  }
}

/**
 * The tables of a database (SQLite's own aside), the search index and its shadow tables included;
 * not the record of operations (an import that fails is recorded there, by design).
 */
function tablesOf(db: Sqlite.Database): string[] {
  return db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT IN ('operations', 'leases') ORDER BY name",
    )
    .pluck()
    .all() as string[]
}

/** Row counts of every table, the search index included. */
export function counts(dataDir: string): Record<string, number> {
  const db = new Sqlite(join(dataDir, 'hive.db'), { readonly: true })
  try {
    return Object.fromEntries(
      tablesOf(db).map((name) => [name, db.prepare(`SELECT count(*) FROM ${name}`).pluck().get() as number]),
    )
  } finally {
    db.close()
  }
}

/**
 * A digest of everything in a data directory that an import could change: every table's rows
 * (the search index too), and the names and sizes of the blob files.
 */
export function storeDigest(dataDir: string): string {
  const hash = createHash('sha256')
  const db = new Sqlite(join(dataDir, 'hive.db'), { readonly: true })
  try {
    for (const name of tablesOf(db)) {
      // Sorted here: some tables have no rowid to order by.
      const rows = db
        .prepare(`SELECT * FROM ${name}`)
        .all()
        .map((row) => JSON.stringify(row))
        .sort()
      for (const row of rows) hash.update(`${name} ${row}\n`)
    }
  } finally {
    db.close()
  }
  for (const file of filesUnder(join(dataDir, 'blobs', 'sha256'))) {
    hash.update(`${relative(dataDir, file)} ${statSync(file).size}\n`)
  }
  return hash.digest('hex')
}

/** Files under a directory, recursively, sorted. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
}

/** What is left in the data directory's `tmp/` (staging of imports). */
export function leftovers(dataDir: string): string[] {
  const dir = join(dataDir, 'tmp')
  return existsSync(dir) ? readdirSync(dir) : []
}

export interface TarEntry {
  name: string
  type?: tar.Header['type']
  body?: Buffer
  linkname?: string
  devmajor?: number
  devminor?: number
}

/** The entries of a tar file, bodies in memory (test bundles are small). */
export async function readTar(path: string): Promise<TarEntry[]> {
  const extract = tar.extract()
  extract.end(readFileSync(path))
  const entries: TarEntry[] = []
  for await (const entry of extract) {
    const chunks: Buffer[] = []
    for await (const chunk of entry) chunks.push(chunk as Buffer)
    entries.push({
      name: entry.header.name,
      type: entry.header.type,
      body: Buffer.concat(chunks),
      ...(entry.header.linkname ? { linkname: entry.header.linkname } : {}),
    })
  }
  return entries
}

/** Writes entries as a tar file. */
export async function writeTar(path: string, entries: readonly TarEntry[]): Promise<void> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer)
  })()
  for (const entry of entries) {
    const type = entry.type ?? 'file'
    const body = type === 'file' ? (entry.body ?? Buffer.alloc(0)) : undefined
    await new Promise<void>((resolve, reject) => {
      const header: Partial<tar.Header> & { name: string } = {
        name: entry.name,
        type,
        size: body?.length ?? 0,
        ...(entry.linkname ? { linkname: entry.linkname } : {}),
        ...(entry.devmajor === undefined ? {} : { devmajor: entry.devmajor, devminor: entry.devminor ?? 0 }),
      }
      const sink = pack.entry(header, (error) => (error ? reject(error) : resolve()))
      ;(sink as unknown as NodeJS.WritableStream).end(body ?? Buffer.alloc(0))
    })
  }
  pack.finalize()
  await collected
  writeFileSync(path, Buffer.concat(chunks))
}

/**
 * Entries with a manifest that matches them again (after a test changed them): the hashes and
 * sizes of every file entry the format knows, then `change` applied to the manifest, which goes
 * last. Tests use it so that a bundle fails for the reason they test, not for a hash mismatch.
 */
export function resealed(
  entries: readonly TarEntry[],
  change: (manifest: Record<string, unknown>) => void = () => {},
) {
  const manifestEntry = entries.find((e) => e.name === 'manifest.json')
  const manifest = JSON.parse(manifestEntry?.body?.toString('utf8') ?? '{}') as Record<string, unknown>
  const rest = entries.filter((e) => e.name !== 'manifest.json')
  manifest.entries = rest
    .filter((e) => (e.type ?? 'file') === 'file' && /^(rows|blobs)\//.test(e.name))
    .map((e) => ({
      path: e.name,
      size: e.body?.length ?? 0,
      sha256: createHash('sha256')
        .update(e.body ?? Buffer.alloc(0))
        .digest('hex'),
    }))
  change(manifest)
  return [...rest, { name: 'manifest.json', body: Buffer.from(JSON.stringify(manifest)) }]
}

const cli = join(import.meta.dirname, '..', 'src', 'cli.ts')
const tsx = createRequire(import.meta.url).resolve('tsx')

/** Runs the real `hive` command with its standard output as bytes (a bundle), maybe through a shell. */
export function hiveBinary(
  args: readonly string[],
  options: { shellPrefix?: string; input?: Buffer } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const command = [process.execPath, '--import', tsx, cli, ...args]
  const child = options.shellPrefix
    ? spawn('sh', ['-c', `${options.shellPrefix} && exec "$@"`, 'sh', ...command], {
        env: { ...process.env, HIVE_DATA_DIR: '' },
      })
    : spawn(command[0] as string, command.slice(1), { env: { ...process.env, HIVE_DATA_DIR: '' } })
  const stdout: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk
  })
  if (options.input) child.stdin.end(options.input)
  else child.stdin.end()
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr }))
  })
}
