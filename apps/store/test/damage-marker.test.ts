import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sha256File, tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { MaintenanceRunner, openHiveStore } from '../src/index.js'
import { hiveInProcess } from './helpers.js'
import { databaseOf, garblePages, leafPagesOf, seedStore } from './integrity-fixture.js'

describe('a database found damaged', () => {
  it('is left alone by every command that writes, until `hive recover`', async () => {
    const dataDir = tempDir()
    const { cells } = await seedStore(dataDir)
    const path = databaseOf(dataDir)
    const pages = leafPagesOf(path, 'messages')
    garblePages(path, pages[1] as number, pages[2] as number)
    const hive = (...args: string[]) => hiveInProcess(['--data-dir', dataDir, ...args])
    const check = await hive('check')
    expect(check.code).toBe(1)
    expect(existsSync(join(dataDir, 'DAMAGED'))).toBe(true)
    const damaged = await sha256File(path)
    for (const args of [
      ['vacuum'],
      ['gc'],
      ['retention', 'apply'],
      ['cells', 'rm', cells[0] as string],
      ['import', join(tempDir(), 'any.tar')],
      ['migrate'],
      ['maintenance', 'run'],
    ]) {
      const result = await hive(...args)
      expect(result.code, args.join(' ')).toBe(1)
      expect(result.stderr, args.join(' ')).toMatch(
        /^hive: the database in .* was found damaged on .* by hive check \(.*\): run `hive recover` or restore a backup \(docs\/recovery\.md\) \[DATABASE_CORRUPT\]\n$/,
      )
    }
    await expect(openHiveStore({ dataDir })).rejects.toMatchObject({ code: 'DATABASE_CORRUPT' })
    expect(await sha256File(path)).toBe(damaged)
    // Checking again is allowed (and still finds it); recovering clears the mark.
    expect((await hive('check')).code).toBe(1)
    const recovered = await hive('recover')
    expect(recovered.code).toBe(0)
    expect(existsSync(join(dataDir, 'DAMAGED'))).toBe(false)
    expect((await hive('vacuum')).code).toBe(0)
    expect((await hive('check')).code).toBe(0)
  })

  it('is found by the maintenance runner, which then writes nothing to it, not even its own records', async () => {
    const dataDir = tempDir()
    await seedStore(dataDir)
    const path = databaseOf(dataDir)
    const pages = leafPagesOf(path, 'messages')
    garblePages(path, pages[1] as number, pages[1] as number)
    const damaged = await sha256File(path)
    const store = await openHiveStore({ dataDir })
    const changes = () => store.database.sqlite.prepare('SELECT total_changes()').pluck().get()
    const runner = new MaintenanceRunner(store, { tickMs: 10, maxBusyTicks: 0 })
    const run = await runner.runTask('integrity')
    expect(run).toMatchObject({ status: 'succeeded', result: { ok: false, blobsVerified: 0 } })
    expect(existsSync(join(dataDir, 'DAMAGED'))).toBe(true)
    // The loop: refuses to work, and records nothing.
    runner.start()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await runner.stop()
    expect(changes()).toBe(0)
    await store.close()
    expect(await sha256File(path)).toBe(damaged)
    const status = await hiveInProcess(['--data-dir', dataDir, 'status'])
    expect(status.code).toBe(1)
    expect(status.stderr).toMatch(/found damaged .* by the maintenance runner .*\[DATABASE_CORRUPT\]/)
  })
})
