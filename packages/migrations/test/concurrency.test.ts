import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openDatabase } from '@hive/sqlite'
import { runChild, tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { writeMigrations } from './helpers.js'

// Each migration counts itself into a table, and takes a while, so the processes collide.
const slow = (table: string) => ({
  up: [`CREATE TABLE ${table} (id INTEGER PRIMARY KEY)`, `INSERT INTO runs (name) VALUES ('${table}')`],
  upCode: 'await new Promise((resolve) => setTimeout(resolve, 150))',
})

describe('several processes migrating one database at once', () => {
  it('apply each migration exactly once, and none of them errors', async () => {
    const dir = tempDir()
    const path = join(dir, 'hive.db')
    const folder = writeMigrations(join(dir, 'migrations'), {
      '0001_runs': { up: ['CREATE TABLE runs (name TEXT NOT NULL)'] },
      '0002_a': slow('a'),
      '0003_b': slow('b'),
      '0004_c': slow('c'),
    })
    openDatabase(path).close()
    const startFile = join(dir, 'go')
    const script = join(import.meta.dirname, 'fixtures', 'migrate-child.ts')
    const children = Array.from({ length: 4 }, () => runChild(script, [path, folder, startFile]))
    await new Promise((resolve) => setTimeout(resolve, 1000))
    writeFileSync(startFile, '')
    const outputs = await Promise.all(children)

    const applied: string[] = []
    for (const output of outputs) {
      expect(output.stderr).toBe('')
      expect(output.code).toBe(0)
      const result = JSON.parse(output.stdout) as { ok: boolean; error?: string; results: [string, string][] }
      expect(result.error).toBeUndefined()
      expect(result.ok).toBe(true)
      for (const [name, outcome] of result.results) {
        expect(['applied', 'skipped']).toContain(outcome)
        if (outcome === 'applied') applied.push(name)
      }
    }
    expect(applied.sort()).toEqual(['0001_runs', '0002_a', '0003_b', '0004_c'])
    const database = openDatabase(path)
    expect(database.sqlite.prepare('SELECT name FROM runs ORDER BY name').pluck().all()).toEqual([
      'a',
      'b',
      'c',
    ])
    expect(database.sqlite.prepare('SELECT count(*) FROM hive_migrations').pluck().get()).toBe(4)
    database.close()
  }, 60_000)
})
