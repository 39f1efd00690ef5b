import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { hive, hiveInProcess } from './helpers.js'
import {
  CHILD,
  copyFixture,
  JSON_STORAGE,
  OPENCODE_DB,
  OTHER,
  PARENT,
  treeHashes,
} from './opencode-helpers.js'

describe('hive import-opencode', () => {
  it('imports a JSON storage, reports each session, and imports nothing the second time', async () => {
    const dataDir = tempDir()
    const first = await hiveInProcess(['--data-dir', dataDir, 'import-opencode', JSON_STORAGE])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('(OpenCode JSON storage)')
    for (const id of [PARENT, CHILD, OTHER]) expect(first.stdout).toMatch(new RegExp(`imported\\s+${id}`))
    expect(first.stdout).toContain(
      '3 session(s): 3 imported, 0 updated, 0 unchanged, 0 skipped (1 sub-agent)',
    )
    expect(first.stdout).toContain('messages: 40 new, 0 changed; parts: 134 new, 0 changed')
    expect(first.stdout).toContain('created 2 workspace(s) and 2 cell(s)')

    const again = await hiveInProcess(['--data-dir', dataDir, 'import-opencode', JSON_STORAGE])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('3 session(s): 0 imported, 0 updated, 3 unchanged, 0 skipped')
    expect(again.stdout).toContain('messages: 0 new, 0 changed; parts: 0 new, 0 changed')
  })

  it('prints the result object with --json', async () => {
    const dataDir = tempDir()
    const result = await hiveInProcess(['--data-dir', dataDir, 'import-opencode', OPENCODE_DB, '--json'])
    expect(result.code).toBe(0)
    const parsed = JSON.parse(result.stdout)
    expect(parsed).toMatchObject({
      ok: true,
      source: { format: 'sqlite', path: OPENCODE_DB },
      totals: { sessions: 3, imported: 3, skipped: 0, messages: { added: 40 }, parts: { added: 134 } },
    })
    expect(parsed.sessions).toHaveLength(3)
  })

  it('reports skipped sessions, imports the others and exits 1', async () => {
    const storage = copyFixture('json-storage')
    const file = join(storage, 'storage/message', OTHER, 'msg_c2d1e9143001BgaN7LvPur7hQ5.json')
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, 50))
    const dataDir = tempDir()
    const text = await hiveInProcess(['--data-dir', dataDir, 'import-opencode', storage])
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(new RegExp(`skipped\\s+${OTHER}`))
    expect(text.stdout).toMatch(
      new RegExp(
        `skipped ${OTHER}: .*msg_c2d1e9143001BgaN7LvPur7hQ5\\.json is not valid JSON.* \\[INVALID_INPUT\\]`,
      ),
    )
    expect(text.stderr).toBe(
      'hive: 1 of 3 OpenCode session(s) skipped, the others were imported [INVALID_INPUT]\n',
    )
    const json = await hiveInProcess(['--data-dir', dataDir, 'import-opencode', storage, '--json'])
    expect(json.code).toBe(1)
    const parsed = JSON.parse(json.stdout)
    expect(parsed.ok).toBe(false)
    expect(parsed.totals).toMatchObject({ unchanged: 2, skipped: 1 })
    expect(parsed.sessions.find((s: { externalId: string }) => s.externalId === OTHER)).toMatchObject({
      outcome: 'skipped',
      error: { code: 'INVALID_INPUT', value: { sessionID: OTHER } },
    })
  })

  it('refuses bad input with one line and the right exit code, creating nothing', async () => {
    const parent = tempDir()
    const dataDir = join(parent, 'data')
    const missing = await hiveInProcess(['--data-dir', parent, 'import-opencode', join(parent, 'nope')])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^hive: OpenCode data directory .*nope does not exist \[NOT_FOUND\]\n$/)

    const empty = tempDir()
    const notOpencode = await hiveInProcess(['--data-dir', parent, 'import-opencode', empty])
    expect(notOpencode.code).toBe(2)
    expect(notOpencode.stderr).toMatch(/is not an OpenCode data directory.*\[INVALID_INPUT\]\n$/)

    const noDir = await hiveInProcess(['--data-dir', parent, 'import-opencode'])
    expect(noDir.code).toBe(2)
    expect(noDir.stderr).toMatch(/missing required argument 'dir'/)

    const badFormat = await hiveInProcess([
      '--data-dir',
      parent,
      'import-opencode',
      JSON_STORAGE,
      '--format',
      'xml',
    ])
    expect(badFormat.code).toBe(2)
    const badId = await hiveInProcess([
      '--data-dir',
      parent,
      'import-opencode',
      JSON_STORAGE,
      '--workspace',
      'w1',
    ])
    expect(badId.code).toBe(2)
    expect(readdirSync(parent)).toEqual([])

    // A named data directory must exist.
    const noData = await hiveInProcess(['--data-dir', dataDir, 'import-opencode', JSON_STORAGE])
    expect(noData.code).toBe(1)
    expect(noData.stderr).toContain('[DATA_DIR_UNUSABLE]')
    expect(readdirSync(parent)).toEqual([])

    const unknown = await hiveInProcess([
      '--data-dir',
      parent,
      'import-opencode',
      JSON_STORAGE,
      '--workspace',
      'ws_00000000000000000000000000',
    ])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/there is no workspace ws_0+ .*\[NOT_FOUND\]/)
    expect(readdirSync(parent)).toEqual([])
  })

  it('runs as the real command line, reading opencode.db without touching it', async () => {
    const db = copyFixture('opencode.db')
    const before = treeHashes(join(db, '..'))
    const dataDir = tempDir()
    const result = await hive(['--data-dir', dataDir, 'import-opencode', join(db, '..'), '--json'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout).totals).toMatchObject({ imported: 3, skipped: 0 })
    expect(treeHashes(join(db, '..'))).toEqual(before)
  })
})
