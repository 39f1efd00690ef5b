import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { ids } from '@hive/schema'
import { foreignKeyCheck } from '@hive/sqlite'
import { tempDir } from '@hive/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkStore, exportBundle, type HiveStore, importBundle } from '../src/index.js'
import {
  bundleRows,
  filesUnder,
  leftovers,
  openStore,
  readTar,
  resealed,
  type Seeded,
  seed,
  storeDigest,
  suiteDir,
  type TarEntry,
  writeTar,
} from './bundle-fixture.js'
import { hiveInProcess } from './helpers.js'
import { blobFileOf, corruptBlob } from './integrity-fixture.js'

/**
 * A seeded store after `hive check --repair` quarantined the corrupt blob of one artifact (the
 * implementation cell's build log) and marked it missing; and the bundle of that cell, exported
 * with `hive export`.
 */
let source: string
let seeded: Seeded
let victim: { id: string; hash: string }
let bundle: string

type Row = Record<string, unknown>

function artifactOf(store: HiveStore, name: string): { id: string; hash: string } {
  return store.database.sqlite
    .prepare('SELECT id, blob_hash AS hash FROM artifacts WHERE name = ?')
    .get(name) as { id: string; hash: string }
}

beforeAll(async () => {
  source = join(suiteDir(), 'source')
  const store = await openStore(source)
  try {
    seeded = await seed(store)
    victim = artifactOf(store, 'build.log')
    corruptBlob(source, victim.hash)
    const report = await checkStore(store, { repair: true })
    expect(report.ok).toBe(true)
    expect(report.repaired.map((action) => action.kind)).toEqual(
      expect.arrayContaining(['blob-quarantined', 'artifact-marked-missing']),
    )
    expect((await store.services.artifacts.get(victim.id)).status).toBe('missing')
  } finally {
    await store.close()
  }
  // What the repair leaves: the row of the blob, no file.
  expect(existsSync(blobFileOf(source, victim.hash))).toBe(false)
  expect((bundleRows(source).blobs as Row[]).some((row) => row.hash === victim.hash)).toBe(true)

  bundle = join(suiteDir(), 'repaired.hive.tar')
  const result = await hiveInProcess([
    '--data-dir',
    source,
    'export',
    '--cell',
    seeded.implementation,
    '-o',
    bundle,
  ])
  expect(result).toMatchObject({ code: 0, stderr: '' })
})

/** A data directory with an empty store. */
async function freshStore(): Promise<string> {
  const dir = tempDir()
  await (await openStore(dir)).close()
  return dir
}

function rowsOf(entries: readonly TarEntry[], table: string): Row[] {
  const text = entries.find((e) => e.name === `rows/${table}.jsonl`)?.body?.toString() ?? ''
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Row)
}

function setRows(entries: TarEntry[], table: string, rows: readonly Row[]): void {
  const entry = entries.find((e) => e.name === `rows/${table}.jsonl`) as TarEntry
  entry.body = Buffer.from(rows.map((row) => `${JSON.stringify(row)}\n`).join(''))
}

/** Imports `entries` into a store with data of its own: refused as BUNDLE_INVALID, nothing written. */
async function expectRefused(entries: readonly TarEntry[], reason: RegExp): Promise<void> {
  const file = join(tempDir(), 'hostile.tar')
  await writeTar(file, entries)
  const dir = tempDir()
  const store = await openStore(dir)
  try {
    const workspace = await store.services.workspaces.create({ name: 'Mine', rootPath: '/repos/mine' })
    await store.services.cells.create({ workspaceId: workspace.id, name: 'Mine', type: 'manual' })
  } finally {
    await store.close()
  }
  const before = storeDigest(dir)
  const again = await openStore(dir)
  try {
    const error = await importBundle(again, { input: file }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'HiveStorageError', code: 'BUNDLE_INVALID' })
    expect((error as Error).message).toMatch(reason)
  } finally {
    await again.close()
  }
  expect(storeDigest(dir)).toBe(before)
  expect(leftovers(dir)).toEqual([])
}

describe('a cell whose artifact `hive check --repair` marked missing', () => {
  it('exports: the artifact and its blob row, without a blob file; the manifest counts files', async () => {
    const entries = await readTar(bundle)
    const manifest = JSON.parse(entries.find((e) => e.name === 'manifest.json')?.body?.toString() ?? '')
    const blobFiles = entries.filter((e) => e.name.startsWith('blobs/'))
    expect(blobFiles.some((e) => e.name.includes(victim.hash))).toBe(false)
    expect(manifest.blobs).toBe(blobFiles.length)
    expect(manifest.counts.blobs).toBe(blobFiles.length + 1)
    expect(rowsOf(entries, 'blobs').map((row) => row.hash)).toContain(victim.hash)
    const artifact = rowsOf(entries, 'artifacts').find((row) => row.id === victim.id)
    expect(artifact).toMatchObject({ status: 'missing', blob_hash: victim.hash })
    // The other artifacts are there, with their files.
    for (const row of rowsOf(entries, 'artifacts')) {
      if (row.id === victim.id) continue
      expect(row.status).toBe('available')
      expect(blobFiles.some((e) => e.name.includes(row.blob_hash as string))).toBe(true)
    }
  })

  it('reports the blob exported as a row only', async () => {
    const store = await openStore(source)
    try {
      const result = await exportBundle(store, {
        cellIds: [seeded.implementation],
        output: join(tempDir(), 'b.tar'),
      })
      expect(result.missingBlobs).toBe(1)
      expect(result.blobs).toBe(result.counts.blobs - 1)
    } finally {
      await store.close()
    }
  })

  it('imports into a fresh data directory: the artifact stays missing, references hold, the check passes', async () => {
    const dir = await freshStore()
    const store = await openStore(dir)
    try {
      const result = await importBundle(store, { input: bundle })
      expect(result.blobs).toMatchObject({ present: 0, missing: 1 })
      expect(result.tables.artifacts.inserted).toBeGreaterThan(1)
      const artifact = await store.services.artifacts.get(victim.id)
      expect(artifact.status).toBe('missing')
      await expect(store.services.artifacts.open(victim.id)).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect(foreignKeyCheck(store.database.sqlite).ok).toBe(true)
      expect(store.database.sqlite.pragma('foreign_key_check')).toEqual([])
      const report = await checkStore(store)
      expect(report.problems).toEqual([])
      expect(report.ok).toBe(true)
      expect(report.stats.artifactsMissing).toBe(1)
    } finally {
      await store.close()
    }
    // The blob's row is the source's, byte for byte (size, stored size, encoding); no file for it.
    const sourceRow = (bundleRows(source).blobs as Row[]).find((row) => row.hash === victim.hash)
    const targetRow = (bundleRows(dir).blobs as Row[]).find((row) => row.hash === victim.hash)
    expect(targetRow).toEqual(sourceRow)
    expect(filesUnder(join(dir, 'blobs')).some((file) => file.includes(victim.hash))).toBe(false)
    expect(leftovers(dir)).toEqual([])

    // It exports again, and importing that bundle once more changes nothing.
    const again = join(tempDir(), 'again.tar')
    const exported = await hiveInProcess([
      '--data-dir',
      dir,
      'export',
      '--cell',
      seeded.implementation,
      '-o',
      again,
    ])
    expect(exported).toMatchObject({ code: 0, stderr: '' })
    const before = storeDigest(dir)
    const reimport = await openStore(dir)
    try {
      const result = await importBundle(reimport, { input: again })
      expect(result.tables.artifacts.inserted).toBe(0)
    } finally {
      await reimport.close()
    }
    expect(storeDigest(dir)).toBe(before)
  })

  it('imports into a store that has the blob file: nothing stored, the artifact can be restored', async () => {
    const dir = await freshStore()
    const store = await openStore(dir)
    try {
      // The same content, put here independently: the blob file (and its row) already exist.
      const workspace = await store.services.workspaces.create({ name: 'Mine', rootPath: '/repos/mine' })
      const cell = await store.services.cells.create({ workspaceId: workspace.id, name: 'M', type: 'manual' })
      const own = await store.services.artifacts.put(
        { cellId: cell.id, type: 'log', name: 'same.log' },
        'compiling…\n'.repeat(5000),
      )
      expect(own.blobHash).toBe(victim.hash)
      const filesBefore = filesUnder(join(dir, 'blobs')).filter((file) => file.includes(victim.hash))
      const result = await importBundle(store, { input: bundle })
      expect(result.blobs).toMatchObject({ missing: 0 })
      expect(result.blobs.present).toBeGreaterThanOrEqual(1)
      expect(result.tables.blobs.skipped).toBe(1)
      expect(filesUnder(join(dir, 'blobs')).filter((file) => file.includes(victim.hash))).toEqual(filesBefore)
      expect((await store.services.artifacts.get(victim.id)).status).toBe('missing')
      expect(foreignKeyCheck(store.database.sqlite).ok).toBe(true)
      expect((await checkStore(store)).problems).toEqual([])
      // Its content is here: a repair makes it available again.
      const repaired = await checkStore(store, { repair: true })
      expect(repaired.ok).toBe(true)
      expect(repaired.repaired.map((action) => action.kind)).toContain('artifact-restored')
      expect((await store.services.artifacts.get(victim.id)).status).toBe('available')
    } finally {
      await store.close()
    }
  })

  it('exports the blob file when the store has it again, though its artifacts are marked missing', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    let cellId: string
    let hash: string
    try {
      const workspace = await store.services.workspaces.create({ name: 'W', rootPath: '/w' })
      cellId = (await store.services.cells.create({ workspaceId: workspace.id, name: 'C', type: 'manual' }))
        .id
      const content = 'back again\n'.repeat(200)
      const artifact = await store.services.artifacts.put({ cellId, type: 'log', name: 'a.log' }, content)
      hash = artifact.blobHash
      corruptBlob(dir, hash)
      expect((await checkStore(store, { repair: true })).ok).toBe(true)
      expect((await store.services.artifacts.get(artifact.id)).status).toBe('missing')
      // The content comes back (another cell stores it): the file is there, the artifact still missing.
      const other = await store.services.cells.create({
        workspaceId: workspace.id,
        name: 'D',
        type: 'manual',
      })
      await store.services.artifacts.put({ cellId: other.id, type: 'log', name: 'b.log' }, content)
      expect((await store.services.artifacts.get(artifact.id)).status).toBe('missing')
      const file = join(tempDir(), 'x.tar')
      const result = await exportBundle(store, { cellIds: [cellId], output: file })
      expect(result).toMatchObject({ blobs: 1, missingBlobs: 0 })
      const entries = await readTar(file)
      expect(entries.filter((e) => e.name.startsWith('blobs/')).map((e) => e.name)).toEqual([
        expect.stringContaining(hash),
      ])
      const target = await openStore(await freshStore())
      try {
        const imported = await importBundle(target, { input: file })
        expect(imported.blobs).toMatchObject({ stored: 1, missing: 0 })
        expect((await target.services.artifacts.get(artifact.id)).status).toBe('missing')
        expect((await checkStore(target)).problems).toEqual([])
      } finally {
        await target.close()
      }
    } finally {
      await store.close()
    }
  })

  it('still fails with NOT_FOUND when an available artifact of the cell needs the missing file', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    let cellId: string
    try {
      const workspace = await store.services.workspaces.create({ name: 'W', rootPath: '/w' })
      cellId = (await store.services.cells.create({ workspaceId: workspace.id, name: 'C', type: 'manual' }))
        .id
      const one = await store.services.artifacts.put({ cellId, type: 'log', name: 'a.log' }, 'shared')
      await store.services.artifacts.put({ cellId, type: 'log', name: 'b.log' }, 'shared')
      // One of the two artifacts is marked missing, the other is not (as no repair leaves them).
      store.database.sqlite.prepare("UPDATE artifacts SET status = 'missing' WHERE id = ?").run(one.id)
      rmSync(blobFileOf(dir, one.blobHash))
    } finally {
      await store.close()
    }
    const out = tempDir()
    const result = await hiveInProcess([
      '--data-dir',
      dir,
      'export',
      '--cell',
      cellId,
      '-o',
      join(out, 'x.tar'),
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /blob [0-9a-f]{64}, which an exported artifact refers to, is missing.*\[NOT_FOUND\]/,
    )
    expect(readdirSync(out)).toEqual([])
  })
})

describe('importBundle refuses a blob row without its file unless its artifacts are all missing', () => {
  it('refuses it when the artifact that uses it is marked available', async () => {
    const entries = await readTar(bundle)
    setRows(
      entries,
      'artifacts',
      rowsOf(entries, 'artifacts').map((row) =>
        row.id === victim.id ? { ...row, status: 'available' } : row,
      ),
    )
    await expectRefused(resealed(entries), new RegExp(`blob ${victim.hash} of rows/blobs.jsonl has no file`))
  })

  it('refuses it when another artifact that uses it is available', async () => {
    const entries = await readTar(bundle)
    const artifacts = rowsOf(entries, 'artifacts')
    const original = artifacts.find((row) => row.id === victim.id) as Row
    // A fresh id sorts after the others: the rows stay in key order.
    artifacts.push({
      ...original,
      id: ids.artifact(),
      status: 'available',
      message_id: null,
      session_id: null,
    })
    setRows(entries, 'artifacts', artifacts)
    await expectRefused(
      resealed(entries, (manifest) => {
        ;(manifest.counts as Record<string, number>).artifacts = artifacts.length
      }),
      new RegExp(`blob ${victim.hash} of rows/blobs.jsonl has no file`),
    )
  })

  it('refuses a blob row without a file that no artifact uses', async () => {
    const entries = await readTar(bundle)
    const blobs = rowsOf(entries, 'blobs')
    const stray = { ...(blobs[0] as Row), hash: 'f'.repeat(64) }
    blobs.push(stray)
    setRows(entries, 'blobs', blobs)
    await expectRefused(
      resealed(entries, (manifest) => {
        ;(manifest.counts as Record<string, number>).blobs = blobs.length
      }),
      new RegExp(`blob ${'f'.repeat(64)} of rows/blobs.jsonl has no file`),
    )
  })

  it('(control) imports the hostile tests’ bundle unchanged but resealed', async () => {
    const entries = await readTar(bundle)
    const file = join(tempDir(), 'ok.tar')
    await writeTar(file, resealed(entries))
    const store = await openStore(await freshStore())
    try {
      expect((await importBundle(store, { input: file })).blobs.missing).toBe(1)
    } finally {
      await store.close()
    }
  })
})
