import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { tempDir } from '@hive/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import { exportBundle, type ImportBundleOptions, importBundle } from '../src/index.js'
import {
  counts,
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

let seeded: Seeded
/** The entries of a valid bundle of the seeded workspace, and its file. */
let valid: TarEntry[]
let validFile: string

beforeAll(async () => {
  const dir = suiteDir()
  const store = await openStore(join(dir, 'source'))
  try {
    seeded = await seed(store)
    validFile = join(dir, 'valid.tar')
    await exportBundle(store, { workspaceId: seeded.workspaceId, output: validFile })
  } finally {
    await store.close()
  }
  valid = await readTar(validFile)
})

/** A copy of the valid bundle's entries (bodies copied too), for a test to change. */
function entries(): TarEntry[] {
  return valid.map((e) => ({ ...e, ...(e.body ? { body: Buffer.from(e.body) } : {}) }))
}

function entry(list: TarEntry[], name: string): TarEntry & { body: Buffer } {
  const found = list.find((e) => e.name === name)
  if (!found?.body) throw new Error(`no ${name} in the bundle`)
  return found as TarEntry & { body: Buffer }
}

function rows(list: TarEntry[], table: string): Array<Record<string, unknown>> {
  const text = entry(list, `rows/${table}.jsonl`).body.toString()
  return text === ''
    ? []
    : text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line))
}

function setRows(list: TarEntry[], table: string, lines: readonly string[]): void {
  entry(list, `rows/${table}.jsonl`).body = Buffer.from(lines.map((line) => `${line}\n`).join(''))
}

/** A store with some data of its own, which a refused import must leave exactly as it was. */
async function target(): Promise<string> {
  const dir = tempDir()
  const store = await openStore(dir)
  try {
    const workspace = await store.services.workspaces.create({ name: 'Mine', rootPath: '/repos/mine' })
    await store.services.cells.create({ workspaceId: workspace.id, name: 'Mine', type: 'manual' })
  } finally {
    await store.close()
  }
  return dir
}

/**
 * Imports `bundle` (entries, or raw bytes) into a store with data, expects `BUNDLE_INVALID` with a
 * message matching `reason`, and checks that nothing was written (rows, search index, blob files)
 * and that no staging file is left.
 */
async function expectRefused(
  bundle: readonly TarEntry[] | Buffer,
  reason: RegExp,
  options: Partial<ImportBundleOptions> = {},
): Promise<void> {
  const file = join(tempDir(), 'bad.tar')
  if (Buffer.isBuffer(bundle)) writeFileSync(file, bundle)
  else await writeTar(file, bundle)
  const dir = await target()
  const before = storeDigest(dir)
  const store = await openStore(dir)
  try {
    const error = await importBundle(store, { input: file, ...options }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'HiveStorageError', code: 'BUNDLE_INVALID' })
    expect((error as Error).message).toMatch(reason)
  } finally {
    await store.close()
  }
  expect(storeDigest(dir)).toBe(before)
  expect(leftovers(dir)).toEqual([])
}

describe('importBundle refuses a bad bundle, writing nothing', () => {
  it('(control) imports the valid bundle re-written by the test helpers', async () => {
    const file = join(tempDir(), 'ok.tar')
    await writeTar(file, resealed(entries()))
    const dir = await target()
    const store = await openStore(dir)
    try {
      const result = await importBundle(store, { input: file })
      expect(result.tables.cells.inserted).toBe(2)
    } finally {
      await store.close()
    }
    expect(counts(dir).cells).toBe(3)
    expect(leftovers(dir)).toEqual([])
  })

  it('refuses bytes that are not a tar archive', async () => {
    await expectRefused(Buffer.alloc(4096, 7), /not a complete tar archive/)
  })

  it('refuses a truncated bundle', async () => {
    const bytes = readFileSync(validFile)
    await expectRefused(bytes.subarray(0, Math.floor(bytes.length / 2) + 100), /not a complete tar archive/)
  })

  it('refuses an empty file and a tar without a manifest', async () => {
    await expectRefused(Buffer.alloc(0), /no manifest\.json/)
    await expectRefused(
      entries().filter((e) => e.name !== 'manifest.json'),
      /no manifest\.json/,
    )
  })

  it('refuses an entry changed after the export (SHA-256 mismatch)', async () => {
    const list = entries()
    const cells = entry(list, 'rows/cells.jsonl')
    cells.body = Buffer.from(cells.body.toString().replace('Fix login', 'Fix lOgin'))
    await expectRefused(list, /rows\/cells\.jsonl does not match its SHA-256 in manifest\.json/)
  })

  it('refuses a blob file whose content is not its hash, even with a matching manifest', async () => {
    const list = entries()
    // The random bytes, stored raw (they do not compress).
    const raw = list.find(
      (e) => /^blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(e.name) && e.body?.length === 50_000,
    )
    if (!raw?.body) throw new Error('the bundle has no raw blob')
    raw.body.writeUInt8(raw.body.readUInt8(100) ^ 0xff, 100)
    await expectRefused(list, /changed or damaged/)
    await expectRefused(resealed(list), /blob [0-9a-f]{64} does not match its hash/)
  })

  it('refuses a path that leaves the bundle (`..`)', async () => {
    await expectRefused(
      resealed([...entries(), { name: '../x', body: Buffer.from('x') }]),
      /leaves the bundle/,
    )
    await expectRefused(
      resealed([...entries(), { name: 'rows/../../x', body: Buffer.from('x') }]),
      /leaves the bundle/,
    )
  })

  it('refuses an absolute path', async () => {
    await expectRefused(
      resealed([...entries(), { name: '/etc/hive-evil', body: Buffer.from('x') }]),
      /absolute path/,
    )
  })

  it('refuses a symbolic link', async () => {
    await expectRefused(
      resealed([...entries(), { name: 'rows/evil.jsonl', type: 'symlink', linkname: '/etc/passwd' }]),
      /is a symbolic link/,
    )
  })

  it('refuses a hard link', async () => {
    await expectRefused(
      resealed([...entries(), { name: 'rows/evil.jsonl', type: 'link', linkname: 'rows/cells.jsonl' }]),
      /is a hard link/,
    )
  })

  it('refuses device and FIFO entries', async () => {
    await expectRefused(
      resealed([...entries(), { name: 'dev-null', type: 'character-device', devmajor: 1, devminor: 3 }]),
      /is a device/,
    )
    await expectRefused(resealed([...entries(), { name: 'pipe', type: 'fifo' }]), /is a FIFO/)
  })

  it('refuses an entry over the size limit before reading it', async () => {
    // The first entry over 2000 bytes is the one named; the same bundle passes with the default limit.
    const first = entries().find((e) => (e.body?.length ?? 0) > 2000)
    await expectRefused(
      resealed(entries()),
      new RegExp(`entry "${first?.name}" is \\d+ bytes, over the limit of 2000 bytes`),
      {
        maxEntryBytes: 2000,
      },
    )
  })

  it('reports an input that fails while it is read as IO_ERROR, leaving no staging files', async () => {
    const dir = await target()
    const before = storeDigest(dir)
    const bytes = readFileSync(validFile)
    const input = new Readable({
      read() {
        this.push(bytes.subarray(0, 3000))
        this.destroy(Object.assign(new Error('device went away'), { code: 'EIO' }))
      },
    })
    const store = await openStore(dir)
    try {
      await expect(importBundle(store, { input })).rejects.toMatchObject({
        code: 'IO_ERROR',
        message: expect.stringMatching(/cannot read the bundle: device went away/),
      })
    } finally {
      await store.close()
    }
    expect(storeDigest(dir)).toBe(before)
    expect(leftovers(dir)).toEqual([])
  })

  it('refuses an entry that appears twice', async () => {
    const list = entries()
    await expectRefused([entry(list, 'rows/cells.jsonl'), ...list], /appears twice/)
  })

  it('refuses entries a bundle does not have, or that the manifest does not list', async () => {
    await expectRefused(
      resealed([...entries(), { name: 'notes.txt', body: Buffer.from('x') }]),
      /not part of a bundle/,
    )
    await expectRefused(
      [{ name: 'rows/settings.jsonl', body: Buffer.from('{}\n') }, ...entries()],
      /table a bundle does not carry/,
    )
    const unlisted = createHash('sha256').update('stray').digest('hex')
    await expectRefused(
      [
        { name: `blobs/sha256/${unlisted.slice(0, 2)}/${unlisted}`, body: Buffer.from('stray') },
        ...entries(),
      ],
      /is not listed in manifest\.json/,
    )
  })

  it('refuses an unknown format version', async () => {
    await expectRefused(
      resealed(entries(), (m) => {
        m.formatVersion = 2
      }),
      /bundle format version 2, and this Hive reads version 1/,
    )
    await expectRefused(
      resealed(entries(), (m) => {
        m.format = 'zip'
      }),
      /not a Hive bundle/,
    )
  })

  it('refuses a bundle of a newer schema than the store’s', async () => {
    await expectRefused(
      resealed(entries(), (m) => {
        m.schemaVersion = '9999_from_the_future'
      }),
      /schema 9999_from_the_future, newer than this store's/,
    )
  })

  it('refuses a row that breaks the schema', async () => {
    const list = entries()
    const cells = rows(list, 'cells')
    setRows(list, 'cells', [JSON.stringify({ ...cells[0], status: 'flying' }), JSON.stringify(cells[1])])
    await expectRefused(resealed(list), /rows\/cells\.jsonl line 1: status: /)
  })

  it('refuses a row that is not JSON, or has a column the schema does not', async () => {
    const broken = entries()
    setRows(broken, 'events', ['{"id": "evt_1", '])
    await expectRefused(
      resealed(broken, (m) => ((m.counts as Record<string, number>).events = 1)),
      /rows\/events\.jsonl line 1 is not JSON/,
    )
    const extra = entries()
    const metrics = rows(extra, 'metrics')
    setRows(
      extra,
      'metrics',
      metrics.map((row) => JSON.stringify({ ...row, secret: 1 })),
    )
    await expectRefused(resealed(extra), /rows\/metrics\.jsonl line 1: row: Unrecognized key/)
  })

  it('refuses a row that refers to something not in the bundle', async () => {
    const list = entries()
    const sessions = rows(list, 'sessions')
    setRows(
      list,
      'sessions',
      sessions.map((row) => JSON.stringify({ ...row, cell_id: 'cell_notinthebundle' })),
    )
    await expectRefused(
      resealed(list),
      /rows\/sessions\.jsonl line 1: cell_id cell_notinthebundle is not in the bundle/,
    )
  })

  it('refuses rows out of key order (duplicates included), and counts that do not match', async () => {
    const list = entries()
    const cells = rows(list, 'cells')
    setRows(list, 'cells', [JSON.stringify(cells[0]), JSON.stringify(cells[0])])
    await expectRefused(resealed(list), /rows\/cells\.jsonl line 2: its key is out of order or repeated/)
    await expectRefused(
      resealed(entries(), (m) => ((m.counts as Record<string, number>).parts = 99)),
      /rows\/parts\.jsonl has \d+ rows, and manifest\.json counts 99/,
    )
  })
})

describe('hive import of a bad bundle', () => {
  it('fails with exit code 1 and one typed line; the store is unchanged', async () => {
    const list = entries()
    const cells = entry(list, 'rows/cells.jsonl')
    cells.body = Buffer.from(cells.body.toString().replace('Fix login', 'Fix lOgin'))
    const file = join(tempDir(), 'tampered.tar')
    await writeTar(file, list)
    const dir = await target()
    const before = storeDigest(dir)
    const result = await hiveInProcess(['--data-dir', dir, 'import', file])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /^hive: invalid bundle: rows\/cells\.jsonl does not match .*\[BUNDLE_INVALID\]\n$/,
    )
    expect(result.stdout).toBe('')
    expect(storeDigest(dir)).toBe(before)
    expect(leftovers(dir)).toEqual([])

    const json = await hiveInProcess(['--data-dir', dir, 'import', file, '--json'])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'BUNDLE_INVALID' } })
  })

  it('refuses an oversized entry with --max-entry-size', async () => {
    const dir = await target()
    const before = storeDigest(dir)
    const result = await hiveInProcess(['--data-dir', dir, 'import', validFile, '--max-entry-size', '2KB'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/over the limit of 2000 bytes.*\[BUNDLE_INVALID\]/)
    expect(storeDigest(dir)).toBe(before)
    expect(leftovers(dir)).toEqual([])
  })

  it('fails with NOT_FOUND for a missing file, and a usage error for a bad policy', async () => {
    const dir = await target()
    const missing = await hiveInProcess(['--data-dir', dir, 'import', join(dir, 'nope.tar')])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/nope\.tar.*\[NOT_FOUND\]/)
    const policy = await hiveInProcess(['--data-dir', dir, 'import', validFile, '--on-conflict', 'merge'])
    expect(policy.code).toBe(2)
    expect(policy.stderr).toMatch(/--on-conflict must be one of skip, overwrite, rename.*\[INVALID_INPUT\]/)
    expect(leftovers(dir)).toEqual([])
  })

  it('rolls back every row when one conflicts in the store, leaving no staging files', async () => {
    const dir = await target()
    const store = await openStore(dir)
    try {
      // The store already holds the provider's session under another cell and id.
      const workspace = (await store.services.workspaces.list())[0]
      const cell = await store.services.cells.create({
        workspaceId: workspace?.id as string,
        name: 'Holder',
        type: 'manual',
      })
      await store.services.sessions.create({ cellId: cell.id, externalId: 'ses_opencode0001' })
    } finally {
      await store.close()
    }
    const before = counts(dir)
    const again = await openStore(dir)
    try {
      const error = await importBundle(again, { input: validFile }).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'CONFLICT' })
      expect((error as Error).message).toMatch(/rows\/sessions\.jsonl line \d+: UNIQUE constraint failed/)
    } finally {
      await again.close()
    }
    // Not one row of the bundle went in (the cells came before the failing session).
    expect(counts(dir)).toEqual(before)
    expect(leftovers(dir)).toEqual([])
  })
})
