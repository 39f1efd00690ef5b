import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { program } from '../src/cli/main.js'
import { openHiveStore } from '../src/index.js'
import { hiveInProcess } from './helpers.js'

/** Every command path of the `hive` program: `migrate`, `retention show`, … */
function commandPaths(): string[][] {
  const root = program({ io: { stdout: () => {}, stderr: () => {}, env: {}, now: Date.now }, code: 0 })
  const paths: string[][] = []
  for (const command of root.commands) {
    if (command.commands.length === 0) paths.push([command.name()])
    for (const nested of command.commands) paths.push([command.name(), nested.name()])
  }
  return paths
}

describe('the hive command line', () => {
  it('has --help on every command', async () => {
    const paths = commandPaths()
    expect(paths.length).toBeGreaterThan(20)
    for (const path of paths) {
      const result = await hiveInProcess([...path, '--help'])
      expect(result.code, path.join(' ')).toBe(0)
      expect(result.stdout, path.join(' ')).toContain(`Usage: hive ${path.join(' ')}`)
      expect(result.stderr).toBe('')
    }
  })

  it('prints one JSON document with --json on every command that reads', async () => {
    const dataDir = tempDir()
    expect((await hiveInProcess(['--data-dir', dataDir, 'demo'])).code).toBe(0)
    for (const args of [
      ['usage'],
      ['status'],
      ['cells', 'ls'],
      ['search', 'magic'],
      ['retention', 'show'],
      ['retention', 'apply', '--dry-run'],
      ['maintenance', 'show'],
      ['migrate', 'status'],
      ['check'],
      ['gc', '--dry-run'],
    ]) {
      const result = await hiveInProcess(['--data-dir', dataDir, ...args, '--json'])
      expect(result.code, args.join(' ')).toBe(0)
      expect(() => JSON.parse(result.stdout), args.join(' ')).not.toThrow()
    }
  })

  it('opens a store with pending migrations only when told to migrate', async () => {
    const dataDir = tempDir()
    expect(
      (await hiveInProcess(['--data-dir', dataDir, 'migrate', '--to', '0003_transcript_artifacts'])).code,
    ).toBe(0)
    await expect(openHiveStore({ dataDir })).rejects.toMatchObject({
      code: 'DATABASE_TOO_OLD',
      message: expect.stringMatching(
        /at schema 0003_transcript_artifacts and 1 migration\(s\) are pending: run `hive migrate`/,
      ),
    })
    const usage = await hiveInProcess(['--data-dir', dataDir, 'usage'])
    expect(usage.code).toBe(1)
    expect(usage.stderr).toMatch(/\[DATABASE_TOO_OLD\]\n$/)
    const migrated = await openHiveStore({ dataDir, migrate: 'auto' })
    expect(migrated.database.sqlite.prepare('SELECT max(name) FROM hive_migrations').pluck().get()).toBe(
      '0004_operations',
    )
    await migrated.close()
  })
})
