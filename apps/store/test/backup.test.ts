import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sha256File, tempDir } from '@hive/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { backupDataDir, type HiveStore, openHiveStore, restoreBackup, verifyBackup } from '../src/index.js'
import { hiveInProcess } from './helpers.js'
import { addSession, clockedStore, counts, logText } from './maintenance-fixture.js'

const open: HiveStore[] = []
afterEach(async () => {
  for (const store of open.splice(0)) await store.close()
})

async function populated() {
  const { dataDir, store } = await clockedStore()
  open.push(store)
  const ws = await store.services.workspaces.create({ name: 'hive', rootPath: '/src/hive' })
  const cell = await store.services.cells.create({
    workspaceId: ws.id,
    name: 'Backed up',
    type: 'implementation',
  })
  await addSession(store, cell.id, { bigOutput: true, words: 'precious' })
  const log = await store.services.artifacts.put(
    { cellId: cell.id, type: 'log', name: 'build.log' },
    logText(3000, 5),
  )
  return { dataDir, store, cell, log }
}

function blobFiles(root: string): string[] {
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
}

describe('backupDataDir', () => {
  it('writes a consistent database, hard-linked blobs and a manifest, while the store is in use', async () => {
    const { dataDir, store, cell, log } = await populated()
    const destination = join(tempDir(), 'backup')
    // Writes go on while the backup runs: the backup holds one committed state, whole.
    let writing = true
    const writer = (async () => {
      let i = 0
      while (writing) {
        await store.services.artifacts.put(
          { cellId: cell.id, type: 'log', name: `during-${i}.log` },
          logText(200, 100 + i),
        )
        i += 1
        await new Promise((resolve) => setImmediate(resolve))
      }
      return i
    })()
    const phases = new Set<string>()
    const result = await backupDataDir({ dataDir, destination, onProgress: (e) => phases.add(e.phase) })
    writing = false
    expect(await writer).toBeGreaterThan(0)
    expect(phases).toEqual(new Set(['database', 'blobs']))
    expect(result.path).toBe(destination)
    expect(result.copied).toBe(0)
    expect(result.linked).toBe(result.manifest.blobs.count)
    expect(result.manifest).toMatchObject({ format: 'hive-backup', version: 1, blobs: { missing: [] } })
    expect(result.manifest.database.sha256).toBe(await sha256File(join(destination, 'hive.db')))
    // No staging directory left beside it.
    expect(readdirSync(join(destination, '..'))).toEqual(['backup'])
    // Hard links: the same files, no space used.
    const original = (await store.blobs.stat(log.blobHash)).path
    const backedUp = join(destination, 'blobs', original.slice(store.layout.blobs.length + 1))
    expect(statSync(backedUp).ino).toBe(statSync(original).ino)
    // Standard files: Debian's sqlite3 reads the database; every row's blob is there.
    const rows = execFileSync(
      'sqlite3',
      [join(destination, 'hive.db'), 'PRAGMA integrity_check; SELECT count(*) FROM artifacts;'],
      { encoding: 'utf8' },
    )
      .trim()
      .split('\n')
    expect(rows[0]).toBe('ok')
    expect(Number(rows[1])).toBe(result.manifest.blobs.count) // one blob per artifact here
    const verification = await verifyBackup(destination)
    expect(verification).toMatchObject({ ok: true, problems: [] })
    expect(verification.blobsVerified).toBe(result.manifest.blobs.count)
  })

  it('copies when asked, and refuses an existing destination or a missing parent, leaving nothing behind', async () => {
    const { dataDir, store, log } = await populated()
    const parent = tempDir()
    const copied = await backupDataDir({ dataDir, destination: join(parent, 'copy'), copy: true })
    expect(copied.linked).toBe(0)
    const original = (await store.blobs.stat(log.blobHash)).path
    const backedUp = join(parent, 'copy', 'blobs', original.slice(store.layout.blobs.length + 1))
    expect(statSync(backedUp).ino).not.toBe(statSync(original).ino)
    await expect(backupDataDir({ dataDir, destination: join(parent, 'copy') })).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    await expect(backupDataDir({ dataDir, destination: join(parent, 'no', 'such') })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(
      backupDataDir({ dataDir: join(parent, 'nothing'), destination: join(parent, 'b') }),
    ).rejects.toMatchObject({ code: 'DATA_DIR_UNUSABLE' })
    expect(readdirSync(parent)).toEqual(['copy'])
  })
})

describe('restoreBackup', () => {
  it('restores into a new data directory, and over a changed one (snapshotting what was there)', async () => {
    const { dataDir, store, cell, log } = await populated()
    const before = counts(store)
    const destination = join(tempDir(), 'backup')
    await backupDataDir({ dataDir, destination })

    const elsewhere = join(tempDir(), 'restored')
    const fresh = await restoreBackup({ dataDir: elsewhere, from: destination, create: true })
    expect(fresh.blobsAdded).toBe(fresh.verification.blobsVerified)
    expect(fresh.database.safety).toBeNull()
    const restored = await openHiveStore({ dataDir: elsewhere })
    open.push(restored)
    expect(counts(restored)).toEqual(before)
    expect((await (await restored.services.artifacts.open(log.id)).buffer()).toString()).toBe(
      logText(3000, 5),
    )
    expect((await restored.services.search.search({ text: 'precious' })).hits.length).toBeGreaterThan(0)

    // Mistakes after the backup: the cell is deleted. The restore brings it back.
    await store.services.cells.delete(cell.id)
    await store.close()
    const result = await hiveInProcess(['--data-dir', dataDir, 'restore', destination])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    expect(result.stdout).toMatch(/the database as it was before is in snapshots\/.*-pre-restore-/)
    const back = await openHiveStore({ dataDir })
    open.push(back)
    expect(counts(back)).toEqual(before)
    expect((await back.services.cells.get(cell.id)).name).toBe('Backed up')
  })

  it('refuses a damaged or foreign backup whole, changing nothing', async () => {
    const { dataDir, store } = await populated()
    await store.close()
    const base = tempDir()
    const backup = async (name: string) => {
      const destination = join(base, name)
      await backupDataDir({ dataDir, destination, copy: true })
      return destination
    }
    const target = join(tempDir(), 'target')
    const { store: targetStore } = await clockedStore(target)
    await targetStore.close()
    const targetHash = await sha256File(join(target, 'hive.db'))
    const targetBlobs = blobFiles(join(target, 'blobs'))
    const restore = (from: string) => hiveInProcess(['--data-dir', target, 'restore', from])

    const tampered = await backup('tampered')
    const db = readFileSync(join(tampered, 'hive.db'))
    db[db.length - 100] = (db[db.length - 100] ?? 0) ^ 0xff
    writeFileSync(join(tampered, 'hive.db'), db)
    const badDb = await restore(tampered)
    expect(badDb.code).toBe(1)
    expect(badDb.stderr).toMatch(
      /fails verification: hive\.db does not match the SHA-256.*\[DATABASE_CORRUPT\]\n$/,
    )

    const rotten = await backup('rotten')
    const blob = blobFiles(join(rotten, 'blobs'))[0] as string
    const bytes = readFileSync(blob)
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff
    writeFileSync(blob, bytes)
    const badBlob = await restore(rotten)
    expect(badBlob.code).toBe(1)
    expect(badBlob.stderr).toMatch(/\[BLOB_CORRUPT\]\n$/)
    const check = await hiveInProcess(['restore', rotten, '--verify-only', '--json'])
    expect(check.code).toBe(1)
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: false, problems: [{ code: 'BLOB_CORRUPT' }] })

    const lacking = await backup('lacking')
    execFileSync('rm', [blobFiles(join(lacking, 'blobs'))[0] as string])
    expect((await restore(lacking)).stderr).toMatch(/is missing from the backup.*\[NOT_FOUND\]\n$/)

    const future = await backup('future')
    const manifest = JSON.parse(readFileSync(join(future, 'backup.json'), 'utf8'))
    writeFileSync(join(future, 'backup.json'), JSON.stringify({ ...manifest, version: 2 }))
    const newer = await restore(future)
    expect(newer.code).toBe(2)
    expect(newer.stderr).toMatch(/format version 2 that this version of Hive does not know \[INVALID_INPUT\]/)

    const notABackup = await restore(tempDir())
    expect(notABackup.code).toBe(2)
    expect(notABackup.stderr).toMatch(/is not a Hive backup: it has no backup\.json \[INVALID_INPUT\]/)

    // None of it touched the target.
    expect(await sha256File(join(target, 'hive.db'))).toBe(targetHash)
    expect(blobFiles(join(target, 'blobs'))).toEqual(targetBlobs)
    expect(existsSync(join(target, 'snapshots'))).toBe(false)
  })

  it('backs up from the command line, with a one-line error for a bad destination', async () => {
    const { dataDir, store } = await populated()
    await store.close()
    const destination = join(tempDir(), 'b')
    const made = await hiveInProcess(['--data-dir', dataDir, 'backup', destination])
    expect(made.code).toBe(0)
    expect(made.stdout).toMatch(/^backed up to .*: database .* \(schema \d{4}_\w+\), \d+ blobs/)
    const again = await hiveInProcess(['--data-dir', dataDir, 'backup', destination])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^hive: .* exists already: a backup goes to a new directory \[CONFLICT\]\n$/)
    expect((await hiveInProcess(['--data-dir', dataDir, 'backup'])).code).toBe(2)
  })

  it('says when blobs were already missing, and backs up a store repaired by `hive check --repair`', async () => {
    const { dataDir, store, log } = await populated()
    const path = (await store.blobs.stat(log.blobHash)).path
    await store.close()
    execFileSync('rm', [path])
    const gone = await hiveInProcess(['--data-dir', dataDir, 'backup', join(tempDir(), 'b')])
    expect(gone.code).toBe(1)
    expect(gone.stderr).toMatch(
      /^hive: the backup is made, but 1 blobs .* were already missing .*\[NOT_FOUND\]\n$/,
    )
    // The repair marks the artifact missing: then nothing is missing that should be there.
    expect((await hiveInProcess(['--data-dir', dataDir, 'check', '--repair'])).code).toBe(0)
    const destination = join(tempDir(), 'b')
    const repaired = await hiveInProcess(['--data-dir', dataDir, 'backup', destination])
    expect(repaired).toMatchObject({ code: 0, stderr: '' })
    expect((await hiveInProcess(['restore', destination, '--verify-only'])).code).toBe(0)
    const restored = join(tempDir(), 'restored')
    const result = await hiveInProcess(['--data-dir', restored, 'restore', destination])
    expect(result.code).toBe(1) // a named directory must exist
    expect(result.stderr).toMatch(/^hive: .*\[DATA_DIR_UNUSABLE\]\n$/)
    expect(existsSync(restored)).toBe(false)
  })

  it('keeps every blob its snapshot refers to, even when gc takes the file right after the snapshot', async () => {
    const { dataDir, store, log } = await populated()
    const path = (await store.blobs.stat(log.blobHash)).path
    const destination = join(tempDir(), 'b')
    const result = await backupDataDir({
      dataDir,
      destination,
      onProgress: (event) => {
        // The snapshot is taken; now the artifact goes and a gc removes its file.
        if (event.phase === 'database' && event.done === 1 && existsSync(path)) execFileSync('rm', [path])
      },
    })
    expect(existsSync(path)).toBe(false)
    expect(result.manifest.blobs.missing).toEqual([])
    expect(await verifyBackup(destination)).toMatchObject({ ok: true, problems: [] })
    // Only what the snapshot refers to is in the backup.
    expect(blobFiles(join(destination, 'blobs'))).toHaveLength(result.manifest.blobs.count)
  })
})
