import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { HIVE_MIGRATION_NAMES } from '@hive/migrations'
import { ids } from '@hive/schema'
import { foreignKeyCheck } from '@hive/sqlite'
import { tempDir } from '@hive/testing'
import Sqlite from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { BUNDLE_TABLE_NAMES, exportBundle, importBundle, openHiveStore } from '../src/index.js'
import {
  bundleRows,
  counts,
  filesUnder,
  hiveBinary,
  leftovers,
  openStore,
  readTar,
  resealed,
  type Seeded,
  seed,
  storeDigest,
  suiteDir,
  WORDS,
  writeTar,
} from './bundle-fixture.js'
import { hiveInProcess } from './helpers.js'

const LATEST = HIVE_MIGRATION_NAMES.at(-1)
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

/** One seeded store and its workspace's bundle, shared by the tests that only read them. */
let source: string
let seeded: Seeded
let bundle: string

beforeAll(async () => {
  source = join(suiteDir(), 'source')
  const store = await openStore(source)
  try {
    seeded = await seed(store)
  } finally {
    await store.close()
  }
  bundle = join(suiteDir(), 'workspace.hive.tar')
  const result = await hiveInProcess([
    '--data-dir',
    source,
    'export',
    '--workspace',
    seeded.workspaceId,
    '-o',
    bundle,
  ])
  expect(result).toMatchObject({ code: 0, stderr: '' })
})

async function freshStore(): Promise<string> {
  const dir = tempDir()
  await (await openStore(dir)).close()
  return dir
}

describe('hive export', () => {
  it('writes a standard tar that GNU tar lists and extracts: rows, blob files as stored, manifest last', async () => {
    const listing = execFileSync('tar', ['-tf', bundle], { encoding: 'utf8' }).trim().split('\n')
    expect(listing.at(-1)).toBe('manifest.json')
    for (const name of BUNDLE_TABLE_NAMES) expect(listing).toContain(`rows/${name}.jsonl`)
    const out = tempDir()
    execFileSync('tar', ['-xf', bundle, '-C', out])
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))
    expect(manifest).toMatchObject({ format: 'hive-bundle', formatVersion: 1, schemaVersion: LATEST })
    expect(manifest.scope).toEqual({ workspace: seeded.workspaceId })
    // Every entry but the manifest is listed with its SHA-256 and size.
    expect(manifest.entries.map((e: { path: string }) => e.path).sort()).toEqual(
      listing.filter((name) => name !== 'manifest.json').sort(),
    )
    for (const entry of manifest.entries) {
      const bytes = readFileSync(join(out, entry.path))
      expect(sha256(bytes)).toBe(entry.sha256)
      expect(bytes.length).toBe(entry.size)
    }
    // Counts per table match the JSONL lines and the source's rows of this workspace.
    const rows = bundleRows(source)
    const workspaceCells = new Set([seeded.planning, seeded.implementation])
    expect(manifest.counts.cells).toBe(2)
    expect(manifest.counts.workspaces).toBe(1)
    for (const name of BUNDLE_TABLE_NAMES) {
      const text = readFileSync(join(out, 'rows', `${name}.jsonl`), 'utf8')
      expect(text === '' ? 0 : text.trimEnd().split('\n').length).toBe(manifest.counts[name])
    }
    expect(manifest.counts.sessions).toBe(2)
    expect(manifest.counts.events).toBe(
      (rows.events as Array<{ cell_id: string }>).filter((e) => workspaceCells.has(e.cell_id)).length,
    )
    const cells = readFileSync(join(out, 'rows', 'cells.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(cells.map((c) => c.id).sort()).toEqual([...workspaceCells].sort())
    expect(cells[0]).not.toHaveProperty('rid')
    // Blob files are the blob store's files, byte for byte: three blobs (one shared by two artifacts),
    // plus the spilled tool output and message. The other workspace's blob is not there.
    const blobEntries = manifest.entries.filter((e: { path: string }) => e.path.startsWith('blobs/'))
    expect(blobEntries).toHaveLength(5)
    expect(manifest.blobs).toBe(5)
    for (const entry of blobEntries) {
      expect(readFileSync(join(out, entry.path))).toEqual(readFileSync(join(source, entry.path)))
    }
    expect(blobEntries.some((e: { path: string }) => e.path.endsWith('.lz4'))).toBe(true)
    expect(blobEntries.some((e: { path: string }) => !e.path.endsWith('.lz4'))).toBe(true)
    // Search documents are not carried: the import rebuilds them.
    expect(listing.some((name) => name.includes('search'))).toBe(false)
  })

  it('exports chosen cells only, with links among them only, to standard output', async () => {
    const result = await hiveBinary(['--data-dir', source, 'export', '--cell', seeded.implementation])
    expect(result.stderr).toContain('exported 1 cell(s) to standard output')
    expect(result.code).toBe(0)
    const listing = execFileSync('tar', ['-tf', '-'], { input: result.stdout, encoding: 'utf8' })
      .trim()
      .split('\n')
    expect(listing.at(-1)).toBe('manifest.json')
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', '-', 'manifest.json'], { input: result.stdout }).toString(),
    )
    expect(manifest.scope).toEqual({ cells: [seeded.implementation] })
    expect(manifest.counts).toMatchObject({ cells: 1, workspaces: 1, cell_links: 0, plans: 0 })
  })

  it('fails with NOT_FOUND for a cell or workspace that does not exist, and writes nothing', async () => {
    const out = tempDir()
    for (const args of [
      ['--cell', 'cell_doesnotexist'],
      ['--cell', seeded.planning, '--cell', 'cell_doesnotexist'],
      ['--workspace', 'ws_doesnotexist'],
    ]) {
      const result = await hiveInProcess(['--data-dir', source, 'export', ...args, '-o', join(out, 'x.tar')])
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/^hive: there is no (cell|workspace) \w+_doesnotexist.*\[NOT_FOUND\]\n$/)
    }
    expect(readdirSync(out)).toEqual([])
  })

  it('needs exactly one of --cell and --workspace (a usage error)', async () => {
    const out = join(tempDir(), 'x.tar')
    const neither = await hiveInProcess(['--data-dir', source, 'export', '-o', out])
    expect(neither.code).toBe(2)
    expect(neither.stderr).toContain('[INVALID_INPUT]')
    const both = await hiveInProcess([
      '--data-dir',
      source,
      'export',
      '--cell',
      seeded.planning,
      '--workspace',
      seeded.workspaceId,
      '-o',
      out,
    ])
    expect(both.code).toBe(2)
    expect(both.stderr).toMatch(/not both.*\[INVALID_INPUT\]/)
    const api = await openStore(source)
    try {
      await expect(exportBundle(api, { output: out })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
      await expect(
        exportBundle(api, { cellIds: [seeded.planning], workspaceId: seeded.workspaceId, output: out }),
      ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    } finally {
      await api.close()
    }
    expect(existsSync(out)).toBe(false)
  })

  it('does not mix --json with a bundle on standard output', async () => {
    const result = await hiveInProcess(['--data-dir', source, 'export', '--cell', seeded.planning, '--json'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--json needs -o FILE.*\[INVALID_INPUT\]/)
  })

  it('fails with NOT_FOUND when a blob file an artifact needs is gone, leaving no file', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    let cellId: string
    try {
      const workspace = await store.services.workspaces.create({ name: 'W', rootPath: '/w' })
      cellId = (await store.services.cells.create({ workspaceId: workspace.id, name: 'C', type: 'manual' }))
        .id
      const artifact = await store.services.artifacts.put({ cellId, type: 'log', name: 'a.log' }, 'gone soon')
      rmSync((await store.blobs.stat(artifact.blobHash)).path)
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

  it('reports a full disk as DISK_FULL (-o /dev/full)', async () => {
    const result = await hiveInProcess([
      '--data-dir',
      source,
      'export',
      '--workspace',
      seeded.workspaceId,
      '-o',
      '/dev/full',
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/the disk is full.*\[DISK_FULL\]\n$/)
  })

  it('leaves no partial file when writing a regular file fails midway', async () => {
    const out = tempDir()
    const target = join(out, 'bundle.tar')
    // A file size limit of 64 KiB: the write fails (EFBIG) well before the bundle is complete.
    const result = await hiveBinary(
      ['--data-dir', source, 'export', '--workspace', seeded.workspaceId, '-o', target],
      { shellPrefix: 'ulimit -f 128' },
    )
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/cannot write the bundle.*\[(IO_ERROR|DISK_FULL)\]\n$/)
    expect(readdirSync(out)).toEqual([])
  })

  it('reports a failing output stream as a typed error and leaves the store as it was', async () => {
    const store = await openStore(source)
    try {
      let written = 0
      const output = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          written += chunk.length
          if (written > 20_000)
            callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))
          else callback()
        },
      })
      await expect(exportBundle(store, { workspaceId: seeded.workspaceId, output })).rejects.toMatchObject({
        code: 'DISK_FULL',
      })
      // The export's own connection is closed: the store goes on as before.
      expect((await store.services.cells.get(seeded.planning)).name).toBe('Plan the login fix')
    } finally {
      await store.close()
    }
  })

  it('reports progress, and what it wrote', async () => {
    const store = await openStore(source)
    try {
      const phases = new Set<string>()
      const target = join(tempDir(), 'cells.tar')
      const result = await exportBundle(store, {
        cellIds: [seeded.planning, seeded.implementation],
        output: target,
        onProgress: (event) => phases.add(event.phase),
      })
      expect([...phases]).toEqual(['counting', 'rows', 'blobs'])
      expect(result).toMatchObject({ formatVersion: 1, schemaVersion: LATEST, blobs: 5 })
      expect(result.counts.cells).toBe(2)
      expect(result.bytes).toBe(statSync(target).size)
      expect(result.entries).toBe(BUNDLE_TABLE_NAMES.length + 5 + 1)
    } finally {
      await store.close()
    }
  })
})

describe('hive import', () => {
  it('round-trips: every row, the blobs, transcripts and search, into a fresh data directory', async () => {
    const target = await freshStore()
    const result = await hiveInProcess(['--data-dir', target, 'import', bundle, '--json'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.onConflict).toBe('skip')
    expect(report.tables.cells).toEqual({ inserted: 2, skipped: 0, overwritten: 0, renamed: 0 })
    expect(report.blobs).toMatchObject({ stored: 5, present: 0 })

    // Every row of the exported cells, exactly (the other workspace's are not there).
    const exported = bundleRows(source)
    const imported = bundleRows(target)
    const inWorkspace = (table: string, row: Record<string, unknown>) =>
      !JSON.stringify(row).includes(seeded.other) &&
      !(table === 'workspaces' && row.root_path === '/repos/other')
    for (const name of BUNDLE_TABLE_NAMES) {
      const expected = (exported[name] as Array<Record<string, unknown>>).filter((row) =>
        inWorkspace(name, row),
      )
      if (name === 'blobs') {
        // The other workspace's blob stays behind.
        expect(imported[name]).toHaveLength(expected.length - 1)
        continue
      }
      expect(imported[name], name).toEqual(expected)
    }
    expect(
      (imported.blobs as Array<{ hash: string }>).every((b) =>
        (exported.blobs as Array<{ hash: string }>).some((e) => JSON.stringify(e) === JSON.stringify(b)),
      ),
    ).toBe(true)
    // Blob files: the same bytes as the source's.
    for (const file of filesUnder(join(target, 'blobs', 'sha256'))) {
      expect(readFileSync(file)).toEqual(readFileSync(file.replace(target, source)))
    }

    const store = await openStore(target)
    try {
      // Search was rebuilt from the rows by the triggers.
      for (const word of Object.values(WORDS)) {
        const { hits } = await store.services.search.search({ text: word })
        expect(hits.length, word).toBeGreaterThan(0)
      }
      // The transcript reads back, with the spilled tool output restored from its blob.
      const page = await store.services.transcripts.page(seeded.sessionId)
      expect(page.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'assistant'])
      const original = await store.services.transcripts.originalPart(seeded.spilledPartId)
      expect((original.state as { output: string }).output).toBe(seeded.toolOutput)
      const message = await store.services.transcripts.originalMessage(seeded.spilledMessageId)
      expect(message.system).toBe('system prompt '.repeat(6000))
      expect(foreignKeyCheck(store.database.sqlite).ok).toBe(true)
    } finally {
      await store.close()
    }
    expect(leftovers(target)).toEqual([])
  })

  it('is idempotent: importing the same bundle again with skip changes nothing', async () => {
    const target = await freshStore()
    const first = await hiveInProcess(['--data-dir', target, 'import', bundle])
    expect(first.code).toBe(0)
    const before = storeDigest(target)
    const beforeCounts = counts(target)
    const again = await hiveInProcess(['--data-dir', target, 'import', bundle, '--json'])
    expect(again.code).toBe(0)
    const report = JSON.parse(again.stdout)
    for (const name of BUNDLE_TABLE_NAMES) {
      expect(
        report.tables[name].inserted + report.tables[name].overwritten + report.tables[name].renamed,
      ).toBe(0)
    }
    expect(report.tables.messages.skipped).toBe(4)
    expect(report.blobs).toMatchObject({ stored: 0, present: 5 })
    expect(counts(target)).toEqual(beforeCounts)
    expect(storeDigest(target)).toBe(before)
  })

  it('overwrites rows the store has with the bundle’s, and leaves the rest', async () => {
    const target = await freshStore()
    expect((await hiveInProcess(['--data-dir', target, 'import', bundle])).code).toBe(0)
    const store = await openStore(target)
    try {
      await store.services.cells.update(seeded.planning, { name: 'Renamed locally' })
      await store.services.plans.addFeedback({
        planId: (await store.services.plans.list(seeded.planning))[0]?.id as string,
        source: 'human',
        content: 'a local comment',
      })
    } finally {
      await store.close()
    }
    const skip = await hiveInProcess(['--data-dir', target, 'import', bundle, '--json'])
    expect(JSON.parse(skip.stdout).tables.cells).toEqual({
      inserted: 0,
      skipped: 2,
      overwritten: 0,
      renamed: 0,
    })

    const result = await hiveInProcess([
      '--data-dir',
      target,
      'import',
      bundle,
      '--on-conflict',
      'overwrite',
      '--json',
    ])
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.tables.cells).toEqual({ inserted: 0, skipped: 1, overwritten: 1, renamed: 0 })
    expect(report.tables.messages).toEqual({ inserted: 0, skipped: 4, overwritten: 0, renamed: 0 })
    const after = await openStore(target)
    try {
      expect((await after.services.cells.get(seeded.planning)).name).toBe('Plan the login fix')
      const { hits } = await after.services.search.search({ text: 'Renamed locally' })
      expect(hits).toEqual([])
      // Rows the bundle does not have stay.
      const feedback = await after.services.plans.feedback(
        (await after.services.plans.list(seeded.planning))[0]?.id as string,
      )
      expect(feedback.map((f) => f.content)).toContain('a local comment')
    } finally {
      await after.close()
    }
  })

  it('empties the store’s caches after an import', async () => {
    const target = await freshStore()
    const store = await openHiveStore({ dataDir: target, cache: true })
    try {
      await importBundle(store, { input: bundle })
      await store.services.cells.update(seeded.planning, { name: 'Renamed locally' })
      expect((await store.services.cells.get(seeded.planning)).name).toBe('Renamed locally') // now cached
      const result = await importBundle(store, { input: bundle, onConflict: 'overwrite' })
      expect(result.tables.cells.overwritten).toBe(1)
      expect((await store.services.cells.get(seeded.planning)).name).toBe('Plan the login fix')
    } finally {
      await store.close()
    }
  })

  it('imports a copy under fresh ids with --on-conflict rename, references consistent', async () => {
    const target = tempDir()
    // A copy of the source store, then the bundle imported into it as a copy.
    const store = await openStore(target)
    try {
      await seed(store)
    } finally {
      await store.close()
    }
    const own = join(tempDir(), 'own.tar')
    const exported = await hiveInProcess([
      '--data-dir',
      target,
      'export',
      '--workspace',
      await workspaceOf(target),
      '-o',
      own,
    ])
    expect(exported.code).toBe(0)
    const before = counts(target)
    const result = await hiveInProcess([
      '--data-dir',
      target,
      'import',
      own,
      '--on-conflict',
      'rename',
      '--json',
    ])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const report = JSON.parse(result.stdout)
    const after = counts(target)
    expect(after.cells).toBe((before.cells as number) + 2)
    expect(after.workspaces).toBe(before.workspaces)
    for (const name of [
      'sessions',
      'messages',
      'parts',
      'plans',
      'plan_feedback',
      'cell_links',
      'cell_services',
    ]) {
      expect(after[name], name).toBe(2 * (before[name] as number) - otherCount(target, name))
    }
    expect(report.tables.cells).toEqual({ inserted: 0, skipped: 0, overwritten: 0, renamed: 2 })
    expect(report.tables.workspaces).toEqual({ inserted: 0, skipped: 1, overwritten: 0, renamed: 0 })
    expect(report.blobs).toMatchObject({ stored: 0, present: 5 })
    const copies = report.cells as Array<{ bundleId: string; id: string }>
    expect(copies).toHaveLength(2)
    for (const copy of copies) expect(copy.id).not.toBe(copy.bundleId)

    const copy = await openStore(target)
    try {
      expect(foreignKeyCheck(copy.database.sqlite).ok).toBe(true)
      const sqlite = copy.database.sqlite
      const copied = copies.find(
        (c) => sqlite.prepare('SELECT type FROM cells WHERE id = ?').pluck().get(c.id) === 'implementation',
      )
      const originalCell = copied?.bundleId as string
      const copyCell = copied?.id as string
      // The copy's sessions: fresh ids, and the provider's session stays with the original.
      const sessions = await copy.services.sessions.list(copyCell)
      const originals = await copy.services.sessions.list(originalCell)
      expect(sessions).toHaveLength(originals.length)
      expect(sessions.every((s) => !originals.some((o) => o.id === s.id))).toBe(true)
      expect(sessions.map((s) => s.externalId)).toEqual([null, null])
      const child = sessions.find((s) => s.parentSessionId !== null)
      expect(sessions.map((s) => s.id)).toContain(child?.parentSessionId)
      // Transcripts read back the same, under new message and part ids that their JSON agrees with.
      const main = sessions.find((s) => s.title === 'Fix the login')
      const mainOriginal = originals.find((s) => s.title === 'Fix the login')
      const page = await copy.services.transcripts.page(main?.id as string)
      const originalPage = await copy.services.transcripts.page(mainOriginal?.id as string)
      // The same text, but for the artifact a preview names: the copy's own.
      const texts = (messages: typeof page.messages) =>
        messages.map((m) => m.parts.map((p) => p.text?.replace(/art_\w+/g, 'art_…')))
      expect(texts(page.messages)).toEqual(texts(originalPage.messages))
      for (const [index, message] of page.messages.entries()) {
        const original = originalPage.messages[index]
        expect(message.id).not.toBe(original?.id)
        expect(message.info.id).toBe(message.id)
        if (index > 0) expect(message.parentId).toBe(page.messages[index - 1]?.id)
        for (const part of message.parts) expect(part.data.messageID).toBe(message.id)
      }
      // The spilled tool output: the copy's part names the copy's artifact, which opens.
      const tool = page.messages[1]?.parts.find((p) => p.type === 'tool')
      const originalTool = originalPage.messages[1]?.parts.find((p) => p.type === 'tool')
      expect(tool?.artifactId).not.toBe(originalTool?.artifactId)
      expect(JSON.stringify(tool?.data)).toContain(`in artifact ${tool?.artifactId}`)
      const artifact = await copy.services.artifacts.get(tool?.artifactId as string)
      expect(artifact.cellId).toBe(copyCell)
      expect(artifact.name).toBe(`bash output (${tool?.id})`)
      const output = await copy.services.transcripts.originalPart(tool?.id as string)
      expect((output.state as { output: string }).output).toContain(WORDS.tool)
      expect(page.messages[2]?.artifactId).not.toBeNull()
      expect((await copy.services.artifacts.get(page.messages[2]?.artifactId as string)).messageId).toBe(
        page.messages[2]?.id,
      )
      // Search finds both copies.
      const { hits } = await copy.services.search.search({ text: WORDS.part })
      expect(new Set(hits.map((h) => h.cellId))).toEqual(new Set([originalCell, copyCell]))
      // Ids inside JSON payloads follow too.
      const notes = await copy.services.timeline.list({ cellId: copyCell, types: ['agent.note'] })
      expect(notes.items).toHaveLength(1)
      expect(notes.items[0]?.payload).toEqual({ cellId: copyCell, messageId: page.messages[1]?.id })
      expect(notes.items[0]?.sessionId).toBe(main?.id)
      // Links follow the copies.
      const links = await copy.services.cells.links(copyCell)
      expect(links.map((l) => [l.fromCellId, l.toCellId])).toEqual([
        [copies.find((c) => c.id !== copyCell)?.id, copyCell],
      ])
    } finally {
      await copy.close()
    }
  })

  it('round-trips a transcript of several MiB (many pieces and read chunks)', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    let cellId: string
    try {
      const workspace = await store.services.workspaces.create({ name: 'Big', rootPath: '/big' })
      cellId = (await store.services.cells.create({ workspaceId: workspace.id, name: 'Big', type: 'manual' }))
        .id
      const session = await store.services.sessions.create({ cellId })
      const ref = { cellId, sessionId: session.id }
      for (let m = 0; m < 150; m++) {
        const id = ids.message()
        await store.services.transcripts.append(ref, {
          info: { id, role: m % 2 ? 'assistant' : 'user', time: { created: 1_700_000_000_000 + m } },
          parts: Array.from({ length: 10 }, (_, p) => ({
            id: ids.part(),
            messageID: id,
            type: 'text',
            text: `message ${m} part ${p} ü ${'lorem ipsum dolor '.repeat(60)}`,
          })),
        })
      }
    } finally {
      await store.close()
    }
    const file = join(tempDir(), 'big.tar')
    const source = await openStore(dir)
    try {
      const result = await exportBundle(source, { cellIds: [cellId], output: file })
      expect(result.counts.parts).toBe(1500)
      expect(result.bytes).toBeGreaterThan(2 * 1024 * 1024)
    } finally {
      await source.close()
    }
    const target = await freshStore()
    const store2 = await openStore(target)
    try {
      const result = await importBundle(store2, { input: file })
      expect(result.tables.parts.inserted).toBe(1500)
      const { hits } = await store2.services.search.search({ text: 'message 149 part 9' })
      expect(hits.length).toBeGreaterThan(0)
    } finally {
      await store2.close()
    }
    expect(bundleRows(target)).toEqual(bundleRows(dir))
  })

  it('imports a bundle that GNU tar re-packed (directories, ./ paths, another order)', async () => {
    const out = tempDir()
    execFileSync('tar', ['-xf', bundle, '-C', out])
    const repacked = join(tempDir(), 'repacked.tar')
    execFileSync('tar', ['-C', out, '-cf', repacked, '.'])
    const target = await freshStore()
    const result = await hiveInProcess(['--data-dir', target, 'import', repacked])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(counts(target).cells).toBe(2)
  })

  it('reads a bundle from standard input', async () => {
    const target = await freshStore()
    const result = await hiveBinary(['--data-dir', target, 'import', '-'], { input: readFileSync(bundle) })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout.toString()).toMatch(/cells\s+2\s+0\s+0\s+0/)
    expect(counts(target).messages).toBe(4)
  })

  it('merges a workspace with the store’s one of the same root path', async () => {
    const target = await freshStore()
    const store = await openStore(target)
    let existing: string
    try {
      existing = (await store.services.workspaces.create({ name: 'Mine', rootPath: '/repos/hive' })).id
    } finally {
      await store.close()
    }
    const again = await openStore(target)
    try {
      const result = await importBundle(again, { input: bundle })
      expect(result.tables.workspaces).toEqual({ inserted: 0, skipped: 1, overwritten: 0, renamed: 0 })
      expect(result.tables.cells.inserted).toBe(2)
    } finally {
      await again.close()
    }
    const imported = bundleRows(target)
    expect(imported.workspaces).toHaveLength(1)
    expect(
      (imported.cells as Array<{ workspace_id: string }>).every((c) => c.workspace_id === existing),
    ).toBe(true)
  })

  it('accepts a bundle of an older schema', async () => {
    const entries = await readTar(bundle)
    const manifest = entries.find((e) => e.name === 'manifest.json')
    const text = JSON.parse(manifest?.body?.toString() ?? '{}')
    // 0003 added messages.artifact_id: a bundle of 0002 has no such column.
    text.schemaVersion = '0002_exact_search_index'
    expect(HIVE_MIGRATION_NAMES).toContain(text.schemaVersion)
    const messages = entries.find((e) => e.name === 'rows/messages.jsonl')
    if (messages?.body) {
      messages.body = Buffer.from(
        messages.body
          .toString()
          .trimEnd()
          .split('\n')
          .map((line) => {
            const { artifact_id: _, ...row } = JSON.parse(line)
            return JSON.stringify(row)
          })
          .join('\n')
          .concat('\n'),
      )
    }
    const older = join(tempDir(), 'older.tar')
    await writeTar(
      older,
      resealed(entries, (m) => {
        m.schemaVersion = text.schemaVersion
      }),
    )
    const target = await freshStore()
    const result = await hiveInProcess(['--data-dir', target, 'import', older])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const db = new Sqlite(join(target, 'hive.db'), { readonly: true })
    try {
      expect(db.prepare('SELECT count(*) FROM messages WHERE artifact_id IS NULL').pluck().get()).toBe(4)
    } finally {
      db.close()
    }
  })
})

async function workspaceOf(dataDir: string): Promise<string> {
  const db = new Sqlite(join(dataDir, 'hive.db'), { readonly: true })
  try {
    return db.prepare("SELECT id FROM workspaces WHERE root_path = '/repos/hive'").pluck().get() as string
  } finally {
    db.close()
  }
}

/** Rows of a table that belong to the other workspace's cell (not exported). */
function otherCount(dataDir: string, table: string): number {
  const db = new Sqlite(join(dataDir, 'hive.db'), { readonly: true })
  try {
    const other = db
      .prepare(
        "SELECT c.id FROM cells c JOIN workspaces w ON w.id = c.workspace_id WHERE w.root_path = '/repos/other'",
      )
      .pluck()
      .get()
    const column = table === 'cell_links' ? 'from_cell_id' : table === 'plan_feedback' ? null : 'cell_id'
    if (table === 'messages' || table === 'parts') {
      const sql =
        table === 'messages'
          ? 'SELECT count(*) FROM messages m JOIN sessions s ON s.id = m.session_id WHERE s.cell_id = ?'
          : 'SELECT count(*) FROM parts p JOIN messages m ON m.id = p.message_id JOIN sessions s ON s.id = m.session_id WHERE s.cell_id = ?'
      return db.prepare(sql).pluck().get(other) as number
    }
    if (column === null) {
      return db
        .prepare('SELECT count(*) FROM plan_feedback f JOIN plans p ON p.id = f.plan_id WHERE p.cell_id = ?')
        .pluck()
        .get(other) as number
    }
    return db.prepare(`SELECT count(*) FROM ${table} WHERE ${column} = ?`).pluck().get(other) as number
  } finally {
    db.close()
  }
}
