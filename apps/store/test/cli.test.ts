import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HIVE_MIGRATION_NAMES } from '@hive/migrations'
import { sha256File, tempDir } from '@hive/testing'
import Sqlite from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { hive, hiveInProcess } from './helpers.js'

const LATEST = HIVE_MIGRATION_NAMES.at(-1)

describe('hive migrate', () => {
  it('creates the schema, then reports it applied, verified, and with nothing left to do', async () => {
    const dir = tempDir()
    const up = await hive(['--data-dir', dir, 'migrate'])
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    expect(HIVE_MIGRATION_NAMES.slice(0, 2)).toEqual(['0001_initial_schema', '0002_exact_search_index'])
    for (const name of HIVE_MIGRATION_NAMES) expect(up.stdout).toMatch(new RegExp(`applied\\s+${name}`))

    const status = await hiveInProcess(['--data-dir', dir, 'migrate', 'status', '--json'])
    expect(status.code).toBe(0)
    const parsed = JSON.parse(status.stdout)
    expect(parsed).toMatchObject({
      current: LATEST,
      latest: LATEST,
      pending: [],
      problems: [],
    })
    expect(parsed.migrations).toMatchObject(HIVE_MIGRATION_NAMES.map((name) => ({ name, state: 'applied' })))

    const verify = await hiveInProcess(['--data-dir', dir, 'migrate', 'verify'])
    expect(verify).toMatchObject({ code: 0, stderr: '' })
    expect(verify.stdout).toMatch(/^ok:/)

    const again = await hiveInProcess(['--data-dir', dir, 'migrate', 'up'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('nothing to do')
  })

  it("leaves a standard SQLite file that Debian's sqlite3 reads", async () => {
    const dir = tempDir()
    expect((await hiveInProcess(['--data-dir', dir, 'migrate'])).code).toBe(0)
    const out = execFileSync(
      'sqlite3',
      [join(dir, 'hive.db'), 'PRAGMA integrity_check; SELECT name FROM hive_migrations;'],
      {
        encoding: 'utf8',
      },
    )
    expect(out.trim().split('\n')).toEqual(['ok', ...HIVE_MIGRATION_NAMES])
  })

  it('prints the SQL of a dry run and creates nothing', async () => {
    const dir = tempDir()
    const result = await hiveInProcess(['--data-dir', dir, 'migrate', '--dry-run'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('CREATE TABLE cells')
    expect(result.stdout).toContain('CREATE VIRTUAL TABLE search USING fts5')
    expect(readdirSync(dir)).toEqual([])
  })

  it('shows a dry run of down without changing the database', async () => {
    const dir = tempDir()
    await hiveInProcess(['--data-dir', dir, 'migrate'])
    const before = sha256File(join(dir, 'hive.db'))
    const steps = String(HIVE_MIGRATION_NAMES.length)
    const result = await hiveInProcess(['--data-dir', dir, 'migrate', 'down', '--steps', steps, '--dry-run'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('DROP TRIGGER messages_search_move')
    expect(result.stdout).toContain('DROP TABLE cells')
    expect(sha256File(join(dir, 'hive.db'))).toBe(before)
    expect(readdirSync(dir)).toEqual(['hive.db'])
  })

  it('snapshots before a change, keeps the last N, and restores one', async () => {
    const dir = tempDir()
    const row = (name: string) => {
      const db = new Sqlite(join(dir, 'hive.db'))
      db.prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)').run(`ws_${name}`, name, `/${name}`, 1, 1)
      db.close()
    }
    const names = () => {
      const db = new Sqlite(join(dir, 'hive.db'), { readonly: true })
      const all = db.prepare('SELECT name FROM workspaces ORDER BY name').pluck().all()
      db.close()
      return all
    }
    await hiveInProcess(['--data-dir', dir, 'migrate'])
    const all = String(HIVE_MIGRATION_NAMES.length)
    for (const name of ['one', 'two', 'three']) {
      row(name)
      // down drops the tables: its snapshot holds the row just written.
      expect(
        (await hiveInProcess(['--data-dir', dir, 'migrate', 'down', '--steps', all, '--keep-snapshots', '2']))
          .code,
      ).toBe(0)
      // up finds an empty database: nothing worth a snapshot.
      expect((await hiveInProcess(['--data-dir', dir, 'migrate', 'up', '--keep-snapshots', '2'])).code).toBe(
        0,
      )
    }
    const list = JSON.parse(
      (await hiveInProcess(['--data-dir', dir, 'migrate', 'snapshots', '--json'])).stdout,
    )
    expect(list.map((s: { kind: string; version: string }) => [s.kind, s.version])).toEqual([
      ['pre-migrate', LATEST],
      ['pre-migrate', LATEST],
    ])

    // The latest pre-migration snapshot by default; the one before by name.
    const latest = await hiveInProcess(['--data-dir', dir, 'migrate', 'restore'])
    expect(latest.stderr).toBe('')
    expect(latest.code).toBe(0)
    expect(latest.stdout).toContain(`schema version now ${LATEST}`)
    expect(names()).toEqual(['three'])
    const named = await hiveInProcess(['--data-dir', dir, 'migrate', 'restore', '--snapshot', list[0].name])
    expect(named.code).toBe(0)
    expect(names()).toEqual(['two'])
    // Each restore first kept the state it replaced.
    const after = JSON.parse(
      (await hiveInProcess(['--data-dir', dir, 'migrate', 'snapshots', '--json'])).stdout,
    )
    expect(after.filter((s: { kind: string }) => s.kind === 'pre-restore')).toHaveLength(2)
  })

  it('lets several processes migrate one data directory at once: each migration once, no errors', async () => {
    const dir = tempDir()
    const results = await Promise.all(
      Array.from({ length: 4 }, () => hive(['--data-dir', dir, 'migrate', '--json'])),
    )
    const applied: string[] = []
    for (const result of results) {
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      const run = JSON.parse(result.stdout)
      expect(run.ok).toBe(true)
      for (const r of run.results) if (r.outcome === 'applied') applied.push(r.name)
    }
    expect(applied.sort()).toEqual(HIVE_MIGRATION_NAMES)
    const db = new Sqlite(join(dir, 'hive.db'), { readonly: true })
    expect(db.prepare('SELECT name FROM hive_migrations ORDER BY name').pluck().all()).toEqual(
      HIVE_MIGRATION_NAMES,
    )
    db.close()
  }, 60_000)

  it('creates its default data directory, private, on first use', async () => {
    const home = tempDir()
    const result = await hive(['migrate'], { env: { HOME: home, XDG_DATA_HOME: '' } })
    expect(result.code).toBe(0)
    expect(existsSync(join(home, '.local', 'share', 'hive', 'hive.db'))).toBe(true)
    const status = await hive(['migrate', 'status'], { env: { HOME: home, XDG_DATA_HOME: '' } })
    expect(status.stdout).toContain(join(home, '.local', 'share', 'hive'))
  })
})

describe('hive migrate restore', () => {
  it('recovers a damaged database from the latest snapshot, keeping the damaged file in quarantine', async () => {
    for (const damage of ['garbage', 'pages'] as const) {
      const dir = tempDir()
      await hiveInProcess(['--data-dir', dir, 'migrate'])
      const db = new Sqlite(join(dir, 'hive.db'))
      db.prepare('INSERT INTO workspaces VALUES (?, ?, ?, ?, ?)').run('ws_1', 'saved', '/saved', 1, 1)
      db.close()
      // A down takes a snapshot holding the row; up again, then the database gets damaged.
      await hiveInProcess(['--data-dir', dir, 'migrate', 'down'])
      await hiveInProcess(['--data-dir', dir, 'migrate', 'up'])
      const path = join(dir, 'hive.db')
      if (damage === 'garbage') writeFileSync(path, 'overwritten by accident\n'.repeat(1000))
      else {
        const bytes = readFileSync(path)
        bytes.fill(0x41, 4096 * 2, 4096 * 40)
        writeFileSync(path, bytes)
      }
      const before = sha256File(path)
      const result = await hiveInProcess(['--data-dir', dir, 'migrate', 'restore'])
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout).toContain('moved to')
      // The damaged file (and any WAL beside it, which must not be replayed) is kept aside.
      const kept = readdirSync(join(dir, 'quarantine')).filter((name) => name.endsWith('-hive.db'))
      expect(kept).toHaveLength(1)
      expect(sha256File(join(dir, 'quarantine', kept[0]!))).toBe(before)
      expect(existsSync(`${path}-wal`)).toBe(false)
      const check = new Sqlite(path, { readonly: true })
      expect(check.prepare('SELECT name FROM workspaces').pluck().all()).toEqual(['saved'])
      check.close()
      expect((await hiveInProcess(['--data-dir', dir, 'migrate', 'verify'])).code).toBe(0)
    }
  })
})

describe('hive with bad input', () => {
  function expectOneLineError(result: { code: number | null; stderr: string }, code: string, exit = 1) {
    expect(result.code).toBe(exit)
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(new RegExp(`^hive: .+ \\[${code}\\]\\n$`))
  }

  it('refuses a data directory that does not exist and creates nothing', async () => {
    const root = tempDir()
    const missing = join(root, 'typo')
    for (const action of [[], ['status'], ['down'], ['verify'], ['restore']]) {
      const result = await hiveInProcess(['--data-dir', missing, 'migrate', ...action])
      expectOneLineError(result, 'DATA_DIR_UNUSABLE')
      expect(result.stderr).toContain(missing)
    }
    expect(readdirSync(root)).toEqual([])
  })

  it('refuses a data directory named by HIVE_DATA_DIR that does not exist', async () => {
    const root = tempDir()
    const result = await hiveInProcess(['migrate'], { HIVE_DATA_DIR: join(root, 'nope') })
    expectOneLineError(result, 'DATA_DIR_UNUSABLE')
    expect(readdirSync(root)).toEqual([])
  })

  it.runIf(process.getuid?.() === 0)('refuses a data directory it cannot write', async () => {
    const root = tempDir()
    chmodSync(root, 0o755)
    const dir = join(root, 'data')
    mkdirSync(dir, { mode: 0o755 })
    const result = await hive(['--data-dir', dir, 'migrate'], { uid: 65534 })
    expectOneLineError(result, 'DATA_DIR_UNUSABLE')
    expect(readdirSync(dir)).toEqual([])
  })

  it('refuses a file that is not a SQLite database and leaves it unchanged', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'hive.db'), 'definitely not sqlite\n'.repeat(500))
    const before = sha256File(join(dir, 'hive.db'))
    for (const action of [[], ['status'], ['verify']]) {
      expectOneLineError(await hiveInProcess(['--data-dir', dir, 'migrate', ...action]), 'NOT_A_DATABASE')
    }
    expect(sha256File(join(dir, 'hive.db'))).toBe(before)
    expect(readdirSync(dir)).toEqual(['hive.db'])
  })

  it('refuses a database migrated by a newer version and leaves it unchanged', async () => {
    const dir = tempDir()
    await hiveInProcess(['--data-dir', dir, 'migrate'])
    const db = new Sqlite(join(dir, 'hive.db'))
    db.prepare("INSERT INTO hive_migrations VALUES ('0999_from_the_future', 'abc', 1, 1)").run()
    db.close()
    const before = sha256File(join(dir, 'hive.db'))
    for (const action of [[], ['down'], ['--rebaseline']]) {
      const result = await hiveInProcess(['--data-dir', dir, 'migrate', ...action])
      expectOneLineError(result, 'DATABASE_TOO_NEW')
      expect(result.stderr).toContain('0999_from_the_future')
    }
    const status = await hiveInProcess(['--data-dir', dir, 'migrate', 'status'])
    expect(status.code).toBe(1)
    expect(status.stdout).toMatch(/newer\s+0999_from_the_future/)
    expect(sha256File(join(dir, 'hive.db'))).toBe(before)
    expect(readdirSync(dir)).toEqual(['hive.db'])
  })

  it('refuses an unknown migration or snapshot name with a usage error', async () => {
    const dir = tempDir()
    await hiveInProcess(['--data-dir', dir, 'migrate'])
    const before = sha256File(join(dir, 'hive.db'))
    const to = await hiveInProcess(['--data-dir', dir, 'migrate', 'up', '--to', '0042_nope'])
    expectOneLineError(to, 'UNKNOWN_MIGRATION', 2)
    expect(to.stderr).toContain('0042_nope')
    expectOneLineError(
      await hiveInProcess(['--data-dir', dir, 'migrate', 'restore', '--snapshot', 'nope']),
      'UNKNOWN_MIGRATION',
      2,
    )
    expectOneLineError(await hiveInProcess(['--data-dir', dir, 'migrate', 'restore']), 'NOT_FOUND')
    expect(sha256File(join(dir, 'hive.db'))).toBe(before)
  })

  it('checks --to before creating anything in a fresh data directory', async () => {
    const dir = tempDir()
    expectOneLineError(
      await hiveInProcess(['--data-dir', dir, 'migrate', 'up', '--to', '0042_nope']),
      'UNKNOWN_MIGRATION',
      2,
    )
    expect(readdirSync(dir)).toEqual([])
  })

  it('refuses a dry run on a data directory that does not exist', async () => {
    const root = tempDir()
    expectOneLineError(
      await hiveInProcess(['--data-dir', join(root, 'typo'), 'migrate', '--dry-run']),
      'DATA_DIR_UNUSABLE',
    )
    expect(readdirSync(root)).toEqual([])
  })

  it("refuses another application's SQLite file, in any journal mode, and leaves it byte for byte", async () => {
    const dir = tempDir()
    const theirs = new Sqlite(join(dir, 'hive.db'))
    theirs.exec(
      "CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT); INSERT INTO orders (item) VALUES ('tea')",
    )
    theirs.close()
    const before = sha256File(join(dir, 'hive.db'))
    for (const action of [[], ['status'], ['verify'], ['down'], ['--dry-run'], ['snapshots']]) {
      expectOneLineError(
        await hiveInProcess(['--data-dir', dir, 'migrate', ...action]),
        'NOT_A_HIVE_DATABASE',
      )
    }
    expect(sha256File(join(dir, 'hive.db'))).toBe(before)
    expect(readdirSync(dir)).toEqual(['hive.db'])
  })

  it('rejects unknown commands, actions, options and misplaced options', async () => {
    const dir = tempDir()
    expectOneLineError(await hiveInProcess(['--data-dir', dir, 'migrat']), 'INVALID_INPUT', 2)
    expectOneLineError(await hiveInProcess(['--data-dir', dir, 'migrate', 'sideways']), 'INVALID_INPUT', 2)
    expectOneLineError(
      await hiveInProcess(['--data-dir', dir, 'migrate', '--frobnicate']),
      'INVALID_INPUT',
      2,
    )
    expectOneLineError(
      await hiveInProcess(['--data-dir', dir, 'migrate', 'status', '--steps', '2']),
      'INVALID_INPUT',
      2,
    )
    expectOneLineError(
      await hiveInProcess(['--data-dir', dir, 'migrate', 'down', '--steps', 'two']),
      'INVALID_INPUT',
      2,
    )
    expectOneLineError(
      await hiveInProcess(['--data-dir', dir, 'migrate', 'down', '--steps', '0']),
      'INVALID_INPUT',
      2,
    )
    expect(readdirSync(dir)).toEqual([])
    const help = await hiveInProcess(['help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: hive')
  })

  it('reports errors as JSON too with --json', async () => {
    const dir = tempDir()
    const result = await hiveInProcess(['--data-dir', join(dir, 'missing'), 'migrate', 'status', '--json'])
    expect(result.code).toBe(1)
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'DATA_DIR_UNUSABLE' } })
  })
})
