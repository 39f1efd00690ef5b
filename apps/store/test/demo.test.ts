import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { openHiveStore } from '../src/index.js'
import { hive } from './helpers.js'
import { counts } from './maintenance-fixture.js'

describe('hive demo', () => {
  it('seeds the default data directory, shows usage, a search and a clean check; again adds nothing', async () => {
    const home = tempDir()
    const env = { XDG_DATA_HOME: home, HOME: home }
    const first = await hive(['demo'], { env })
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const dataDir = join(home, 'hive')
    expect(existsSync(join(dataDir, 'hive.db'))).toBe(true)
    expect(first.stdout).toContain(`seeded the demo workspace acme-webapp in ${dataDir}: 5 cells, 7 sessions`)
    expect(first.stdout).toMatch(/transcripts \(messages, parts\)\s+\d+, \d+/)
    expect(first.stdout).toMatch(/savings: .* by compression, [1-9][\d.]* KiB by deduplication/)
    expect(first.stdout).toMatch(/search "flaky":\n.*\n.*\[[Ff]laky\]/)
    expect(first.stdout).toMatch(
      /check: ok \(database, foreign keys, search index, \d+ artifacts, \d+ blobs verified\)/,
    )

    const store = await openHiveStore({ dataDir })
    const seeded = counts(store)
    // The sub-agent session hangs under its parent; a large tool output went to the blob store.
    expect(
      store.database.sqlite
        .prepare('SELECT count(*) FROM sessions WHERE parent_session_id IS NOT NULL')
        .pluck()
        .get(),
    ).toBe(1)
    expect(
      store.database.sqlite.prepare('SELECT count(*) FROM parts WHERE artifact_id IS NOT NULL').pluck().get(),
    ).toBeGreaterThan(0)
    expect(
      (
        await store.services.plans.list(
          store.database.sqlite
            .prepare("SELECT id FROM cells WHERE type = 'planning'")
            .pluck()
            .get() as string,
        )
      )
        .map((p) => [p.version, p.status])
        .sort(),
    ).toEqual([
      [1, 'rejected'],
      [2, 'approved'],
    ])
    await store.close()

    const second = await hive(['demo', '--json'], { env })
    expect(second.code).toBe(0)
    const report = JSON.parse(second.stdout)
    expect(report.seeded.seeded).toBe(false)
    expect(report.check.ok).toBe(true)
    expect(report.search.hits.length).toBeGreaterThan(0)
    const again = await openHiveStore({ dataDir })
    expect(counts(again)).toEqual(seeded)
    await again.close()
  })

  it('refuses a named data directory that does not exist', async () => {
    const missing = join(tempDir(), 'typo')
    const result = await hive(['--data-dir', missing, 'demo'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^hive: .*typo.* \[DATA_DIR_UNUSABLE\]\n$/)
    expect(existsSync(missing)).toBe(false)
  })

  it('refuses a bad --seed before writing anything, and completes a seed that was cut short', async () => {
    const dataDir = tempDir()
    const bad = await hive(['--data-dir', dataDir, 'demo', '--seed', 'abc'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^hive: --seed must be a whole number .*\[INVALID_INPUT\]\n$/)
    expect(existsSync(join(dataDir, 'hive.db'))).toBe(false)
    // A seed killed half-way: the workspace and one cell, no mark that the demo is whole.
    const half = await openHiveStore({ dataDir, create: true, migrate: 'auto' })
    const ws = await half.services.workspaces.create({ name: 'acme-webapp', rootPath: '/demo/acme-webapp' })
    await half.services.cells.create({
      workspaceId: ws.id,
      name: 'Plan: passwordless login',
      type: 'planning',
    })
    await half.close()
    const again = await hive(['--data-dir', dataDir, 'demo'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('seeded the demo workspace acme-webapp')
    const store = await openHiveStore({ dataDir })
    expect(store.database.sqlite.prepare('SELECT count(*) FROM cells').pluck().get()).toBe(5)
    expect(store.database.sqlite.prepare('SELECT count(*) FROM workspaces').pluck().get()).toBe(1)
    await store.close()
  })
})
