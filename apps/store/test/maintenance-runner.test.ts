import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnChild, tempDir } from '@hive/testing'
import Sqlite from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type HiveStore,
  MaintenanceRunner,
  OperationLog,
  openHiveStore,
  readMaintenanceSettings,
  storeStatus,
  writeMaintenanceSettings,
  writeRetentionPolicy,
} from '../src/index.js'
import { hiveInProcess } from './helpers.js'
import { addSession, logText } from './maintenance-fixture.js'

const child = join(import.meta.dirname, 'children', 'maintenance-child.ts')
const open: HiveStore[] = []
const children: Array<ReturnType<typeof spawnChild>> = []
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
  for (const store of open.splice(0)) await store.close()
})

async function store(options: Parameters<typeof openHiveStore>[0] | object = {}) {
  const dataDir = tempDir()
  const opened = await openHiveStore({ dataDir, create: true, migrate: 'auto', ...options })
  open.push(opened)
  return opened
}

async function withData(s: HiveStore, artifacts = 6) {
  const ws = await s.services.workspaces.create({ name: 'w', rootPath: '/w' })
  const cell = await s.services.cells.create({ workspaceId: ws.id, name: 'c', type: 'manual' })
  await addSession(s, cell.id, { messages: 10 })
  const puts = []
  for (let i = 0; i < artifacts; i++)
    puts.push(
      await s.services.artifacts.put({ cellId: cell.id, type: 'log', name: `${i}.log` }, logText(300, i + 1)),
    )
  return { cell, artifacts: puts }
}

function startChild(args: string[]): Promise<ReturnType<typeof spawnChild>> {
  const proc = spawnChild(child, args)
  children.push(proc)
  return new Promise((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk
      if (out.includes('ready')) resolve(proc)
    })
    proc.on('exit', (code) => reject(new Error(`child exited early (${code})`)))
  })
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('maintenance settings', () => {
  it('have defaults, take validated changes whole, and go back to defaults with null', async () => {
    const s = await store()
    const defaults = readMaintenanceSettings(s)
    expect(defaults).toMatchObject({ gcEveryMs: 6 * 3600_000, gcGraceMs: 3600_000, disabled: [] })
    const changed = writeMaintenanceSettings(s, { gcEveryMs: 60_000, disabled: ['fts-optimize'] })
    expect(changed).toMatchObject({ gcEveryMs: 60_000, disabled: ['fts-optimize'] })
    for (const bad of [
      { gcEveryMs: 0 },
      { gcEveryMs: 1.5 },
      { gcGraceMs: 1000 }, // shorter than a write in flight may need
      { walLimitBytes: 10 },
      { disabled: ['sweeping'] },
      { everySoOften: 3 },
      { vacuumEveryMs: 60_000, integrityEveryMs: -1 }, // one bad value: nothing written
    ]) {
      expect(() => writeMaintenanceSettings(s, bad as never)).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      )
    }
    expect(readMaintenanceSettings(s)).toEqual(changed)
    expect(writeMaintenanceSettings(s, { gcEveryMs: null, disabled: null })).toEqual(defaults)
  })

  it('are shown and set from the command line; bad values exit 2 and change nothing', async () => {
    const s = await store()
    const dataDir = s.layout.root
    await s.close()
    const hive = (...args: string[]) => hiveInProcess(['--data-dir', dataDir, ...args])
    expect(
      (await hive('maintenance', 'set', '--gc-every', '12h', '--wal-limit', '128MiB', '--disable', 'vacuum'))
        .code,
    ).toBe(0)
    const shown = JSON.parse((await hive('maintenance', 'show', '--json')).stdout)
    expect(shown.settings).toMatchObject({
      gcEveryMs: 12 * 3600_000,
      walLimitBytes: 128 * 1024 ** 2,
      disabled: ['vacuum'],
    })
    for (const bad of [
      ['--gc-every', '0s'],
      ['--gc-every', 'often'],
      ['--gc-grace', '1m'],
      ['--disable', 'sweeping'],
    ]) {
      const result = await hive('maintenance', 'set', ...bad)
      expect(result.code, bad.join(' ')).toBe(2)
      expect(result.stderr).toMatch(/^hive: .*\[INVALID_INPUT\]\n$/)
    }
    expect(JSON.parse((await hive('maintenance', 'show', '--json')).stdout).settings).toEqual(shown.settings)
    expect((await hive('maintenance', 'show')).stdout).toMatch(/vacuum\s+disabled/)
  })
})

describe('MaintenanceRunner tasks', () => {
  it('runs each task as an operation with its outcome and figures', async () => {
    const s = await store()
    const { artifacts } = await withData(s)
    await s.services.artifacts.delete(artifacts[0]?.id as string)
    writeRetentionPolicy(s, { artifactMaxAgeDays: { log: 1 } })
    const runner = new MaintenanceRunner(s)
    const checkpoint = await runner.runTask('checkpoint')
    expect(checkpoint).toMatchObject({
      kind: 'maintenance.checkpoint',
      status: 'succeeded',
      result: { mode: 'passive' },
    })
    const integrity = await runner.runTask('integrity')
    expect(integrity.result).toMatchObject({ ok: true, quickCheck: [], problems: [] })
    expect((integrity.result as { blobsVerified: number }).blobsVerified).toBe(6)
    // Nothing is older than a day: retention deletes nothing; gc keeps the young unreferenced blob.
    expect((await runner.runTask('retention')).result).toMatchObject({ deletedArtifacts: 0 })
    expect((await runner.runTask('gc')).result).toMatchObject({ removed: 0, keptYoung: 1 })
    expect((await runner.runTask('vacuum')).status).toBe('succeeded')
    const optimized = await runner.runTask('fts-optimize')
    // Each message was its own transaction: segments to merge, in several small steps.
    expect((optimized.result as { merges: number }).merges).toBeGreaterThan(0)
    expect((await runner.runTask('fts-optimize')).result).toMatchObject({ merges: 0 })
    s.database.sqlite.prepare("INSERT INTO search (search, rank) VALUES ('integrity-check', 1)").run()
    const last = s.operations.lastOfEachKind('maintenance.')
    expect(last.map((op) => op.kind).sort()).toEqual(
      ['checkpoint', 'fts-optimize', 'gc', 'integrity', 'retention', 'vacuum']
        .map((t) => `maintenance.${t}`)
        .sort(),
    )
    expect(last.every((op) => op.finishedAt !== null && op.finishedAt >= op.startedAt)).toBe(true)
    await expect(runner.runTask('sweep' as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    expect(() => new MaintenanceRunner(s, { tickMs: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    )
    // A lease shorter than three ticks would lapse between renewals.
    expect(() => new MaintenanceRunner(s, { tickMs: 1000, leaseMs: 1000 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('leaseMs') }),
    )
  })

  it('checkpoints without waiting on readers: passive when the WAL is small, truncate past the limit', async () => {
    const s = await store()
    await withData(s, 2)
    writeMaintenanceSettings(s, { walLimitBytes: 1024 * 1024 })
    const runner = new MaintenanceRunner(s)
    expect((await runner.runTask('checkpoint')).result).toMatchObject({ mode: 'passive', busy: false })
    // A WAL past the limit, and a reader (another connection) in the middle of a read.
    for (let i = 0; i < 3; i++)
      await addSession(s, (await s.services.cells.list()).items[0]?.id as string, {
        messages: 60,
        words: 'x'.repeat(4000),
      })
    const reader = new Sqlite(s.layout.database, { readonly: true })
    reader.prepare('BEGIN').run()
    reader.prepare('SELECT count(*) FROM messages').get()
    const started = Date.now()
    const run = await runner.runTask('checkpoint')
    // A waiting checkpoint would block here for the whole busy timeout (5 s): the reader is in this process.
    expect(Date.now() - started).toBeLessThan(4000)
    expect(run.result).toMatchObject({ mode: 'truncate', busy: true })
    reader.prepare('COMMIT').run()
    reader.close()
    expect((await runner.runTask('checkpoint')).result).toMatchObject({
      mode: 'truncate',
      busy: false,
      walBytesAfter: 0,
    })
    expect(s.database.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000)
  })

  it('verifies a rotating sample: every blob within the period, and surfaces a corrupt one', async () => {
    const s = await store()
    const { artifacts } = await withData(s, 9)
    // Period = 3 × interval: a third of the blobs per run (at least 1).
    writeMaintenanceSettings(s, { integrityEveryMs: 1000, verifyAllBlobsWithinMs: 3000, blobsPerCheck: 1 })
    const runner = new MaintenanceRunner(s)
    const verifiedAt = () =>
      s.database.sqlite
        .prepare('SELECT count(*) FROM blobs WHERE verified_at IS NOT NULL')
        .pluck()
        .get() as number
    for (const expected of [3, 6, 9]) {
      const run = await runner.runTask('integrity')
      expect((run.result as { blobsVerified: number }).blobsVerified).toBe(3)
      expect(verifiedAt()).toBe(expected)
    }
    const damaged = (await s.blobs.stat(artifacts[4]?.blobHash as string)).path
    const bytes = readFileSync(damaged)
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff
    writeFileSync(damaged, bytes)
    // Rotation reaches it within three runs; the finding is recorded and shown by `hive status`.
    let found: unknown
    for (let i = 0; i < 3 && !found; i++) {
      const run = await runner.runTask('integrity')
      const result = run.result as { ok: boolean; problems: Array<{ hash: string }> }
      if (!result.ok) found = result.problems[0]?.hash
    }
    expect(found).toBe(artifacts[4]?.blobHash)
    const status = await storeStatus(s)
    expect(status.problems.map((p) => p.summary)).toEqual([
      expect.stringMatching(/the periodic check found 1 problems/),
    ])
    const cli = await hiveInProcess(['--data-dir', s.layout.root, 'status'])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toMatch(/PROBLEM: maintenance\.integrity .* found 1 problems: run `hive check`/)
  })

  it('records a task that throws as failed, with its typed error, and goes on with the others', async () => {
    const s = await store()
    await withData(s, 2)
    // A retention policy edited by hand into nonsense: the retention task fails.
    s.database.sqlite
      .prepare(
        "INSERT INTO settings (key, value, updated_at) VALUES ('retention', '{\"keepSessionsPerCell\": -1}', 0)",
      )
      .run()
    const runner = new MaintenanceRunner(s, { tickMs: 10, maxBusyTicks: 0 })
    runner.start()
    await until(() => s.operations.lastOfEachKind('maintenance.').length === 6)
    await runner.stop()
    const runs = new Map(s.operations.lastOfEachKind('maintenance.').map((op) => [op.kind, op]))
    expect(runs.get('maintenance.retention')).toMatchObject({
      status: 'failed',
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('keepSessionsPerCell') },
    })
    for (const task of ['checkpoint', 'integrity', 'gc', 'vacuum', 'fts-optimize'])
      expect(runs.get(`maintenance.${task}`)?.status).toBe('succeeded')
    expect((await storeStatus(s)).problems.map((p) => p.operation.kind)).toContain('maintenance.retention')
  })

  it('records a schedule it cannot read (settings edited by hand), once, instead of stopping silently', async () => {
    const s = await store()
    s.database.sqlite
      .prepare(
        'INSERT INTO settings (key, value, updated_at) VALUES (\'maintenance\', \'{"gcEveryMs": "often"}\', 0)',
      )
      .run()
    const runner = new MaintenanceRunner(s, { tickMs: 10 })
    runner.start()
    await until(() => s.operations.list({ kind: 'maintenance.runner' }).length > 0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    await runner.stop()
    const records = s.operations.list({ kind: 'maintenance.runner' })
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({
      status: 'failed',
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('gcEveryMs') },
    })
    expect((await storeStatus(s)).problems.map((p) => p.operation.kind)).toEqual(['maintenance.runner'])
    // Settings fixed, a task runs: the problem is over.
    // (Put right by setting it: the bad stored value is dropped, the new one validated.)
    expect(writeMaintenanceSettings(s, { gcEveryMs: 3_600_000 }).gcEveryMs).toBe(3_600_000)
    await new MaintenanceRunner(s).runTask('checkpoint')
    expect((await storeStatus(s)).problems).toEqual([])
  })
})

describe('MaintenanceRunner stop', () => {
  it('ends a long task between batches, whole batches kept, instead of holding the close up', async () => {
    const s = await store()
    const { cell } = await withData(s, 1)
    for (let i = 0; i < 12; i++) await addSession(s, cell.id, { messages: 150 })
    writeRetentionPolicy(s, { keepSessionsPerCell: 1 })
    const runner = new MaintenanceRunner(s, {
      tickMs: 10,
      maxBusyTicks: 0,
      pauseMs: 20,
      tasks: ['retention'],
    })
    let stopping: Promise<void> | undefined
    const unsubscribe = s.operations.subscribe((op) => {
      if (op.kind === 'maintenance.retention' && op.phase === 'deleting sessions' && (op.done ?? 0) >= 2)
        stopping ??= runner.stop()
    })
    runner.start()
    await until(() => stopping !== undefined)
    await stopping
    unsubscribe()
    const run = s.operations.list({ kind: 'maintenance.retention' })[0]
    expect(run).toMatchObject({ status: 'failed', error: { code: 'ABORTED' } })
    const sessions = s.database.sqlite.prepare('SELECT count(*) FROM sessions').pluck().get() as number
    expect(sessions).toBeGreaterThan(1) // stopped before the end
    expect(sessions).toBeLessThan(13) // after doing some of it
    expect(s.database.sqlite.prepare('PRAGMA foreign_key_check').all()).toEqual([])
    s.database.sqlite.prepare("INSERT INTO search (search, rank) VALUES ('integrity-check', 1)").run()
  })
})

describe('MaintenanceRunner loop and lease', () => {
  it('runs due tasks on their schedule, holds the lease while running, and gives it up on stop', async () => {
    const s = await store({ maintenance: { tickMs: 10, maxBusyTicks: 0 } })
    await until(() => s.operations.lastOfEachKind('maintenance.').length === 6)
    expect(s.maintenance?.isLeader).toBe(true)
    // Retention runs only when a policy is set.
    expect(s.operations.list({ kind: 'maintenance.retention' })[0]?.result).toEqual({
      skipped: 'no retention policy is set',
    })
    const lease = s.database.sqlite.prepare("SELECT * FROM leases WHERE name = 'maintenance'").get() as {
      holder: string
    }
    expect(lease.holder).toBe(s.maintenance?.holder)
    // Each task runs again only when its interval has passed: a minute for checkpoints.
    const checkpoints = () => s.operations.list({ kind: 'maintenance.checkpoint' }).length
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(checkpoints()).toBe(1)
    writeMaintenanceSettings(s, { checkpointEveryMs: 1000 })
    await until(() => checkpoints() >= 2, 10_000)
    await s.maintenance?.stop()
    expect(s.database.sqlite.prepare('SELECT count(*) FROM leases').pluck().get()).toBe(0)
  })

  it('waits while the store is busy, a bounded number of ticks', async () => {
    const s = await store()
    await withData(s, 1)
    const runner = new MaintenanceRunner(s, { tickMs: 20, maxBusyTicks: 5, tasks: ['checkpoint'] })
    let writing = true
    const writer = (async () => {
      while (writing) {
        await s.services.cells.list({ limit: 1 }) // reads do not count
        s.database.sqlite
          .prepare(
            "INSERT INTO settings (key, value, updated_at) VALUES ('x', '1', 0) ON CONFLICT DO UPDATE SET updated_at = updated_at + 1",
          )
          .run()
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    const started = Date.now()
    runner.start()
    await until(() => s.operations.list({ kind: 'maintenance.checkpoint' }).length === 1)
    // It waited about 5 ticks of 20 ms for a quiet moment, then ran anyway.
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 20)
    writing = false
    await writer
    await runner.stop()
  })

  it('does not wait on an idle store: its own lease and task writes are not the store being busy', async () => {
    const s = await store()
    await withData(s, 1)
    // Were the runner's own writes taken for activity, it would wait 1000 ticks (10 s) each time.
    const runner = new MaintenanceRunner(s, {
      tickMs: 10,
      maxBusyTicks: 1000,
      tasks: ['checkpoint', 'vacuum'],
    })
    runner.start()
    await until(() => s.operations.lastOfEachKind('maintenance.').length === 2, 5000)
    await runner.stop()
  })

  it('lets exactly one of several processes that start at once hold the lease', async () => {
    const s = await store()
    const dataDir = s.layout.root
    const procs = [0, 1, 2].map(() => spawnChild(child, ['runner', dataDir, '5000']))
    children.push(...procs)
    const ready = procs.map(
      (proc) =>
        new Promise<number | undefined>((resolve) => {
          proc.stdout?.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('ready')) resolve(proc.pid)
          })
          proc.on('exit', () => resolve(undefined))
        }),
    )
    const first = await Promise.race(ready)
    // Several lease periods' worth of ticks: nobody else becomes leader meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const leaders = await Promise.all(
      ready.map((p) =>
        Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10))]),
      ),
    )
    expect(leaders.filter((pid) => pid !== undefined)).toEqual([first])
    const holder = s.database.sqlite
      .prepare("SELECT holder FROM leases WHERE name = 'maintenance'")
      .pluck()
      .get()
    expect(holder).toMatch(new RegExp(`:${first}:`))
  })

  it('is one runner per data directory; a killed runner’s lease expires and another takes over', async () => {
    const s = await store()
    const dataDir = s.layout.root
    const other = await startChild(['runner', dataDir, '500'])
    const holder = () =>
      (s.database.sqlite
        .prepare("SELECT holder FROM leases WHERE name = 'maintenance'")
        .pluck()
        .get() as string) ?? ''
    const theirs = holder()
    expect(theirs).toMatch(new RegExp(`:${other.pid}:`))
    // Running tasks by hand meanwhile is refused: they would run twice at once.
    const byHand = await hiveInProcess(['--data-dir', dataDir, 'maintenance', 'run', 'checkpoint'])
    expect(byHand.code).toBe(1)
    expect(byHand.stderr).toMatch(
      new RegExp(
        `the maintenance runner of pid ${other.pid} on .* works on this data directory.*\\[CONFLICT\\]`,
      ),
    )
    const runner = new MaintenanceRunner(s, {
      tickMs: 20,
      leaseMs: 500,
      tasks: ['checkpoint'],
      maxBusyTicks: 0,
    })
    runner.start()
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(runner.isLeader).toBe(false)
    expect(holder()).toBe(theirs)
    other.kill('SIGKILL')
    await until(() => runner.isLeader, 10_000)
    expect(holder()).toBe(runner.holder)
    await runner.stop()
  })
})

describe('operations', () => {
  it('reach subscribers in this process and other processes through the table; a dead one is abandoned', async () => {
    const s = await store()
    const updates: string[] = []
    const unsubscribe = s.operations.subscribe((op) => updates.push(`${op.kind}:${op.status}:${op.phase}`))
    await expect(
      s.operations.track('test.failing', async (progress) => {
        progress({ phase: 'one', done: 1, total: 2 })
        throw Object.assign(new Error('no'), {})
      }),
    ).rejects.toThrow('no')
    unsubscribe()
    expect(updates).toEqual([
      'test.failing:running:null',
      'test.failing:running:one',
      'test.failing:failed:one',
    ])
    expect(s.operations.list({ kind: 'test.failing' })[0]).toMatchObject({
      status: 'failed',
      error: { code: 'INTERNAL', message: 'no' },
      done: 1,
      total: 2,
    })

    const proc = await startChild(['operation', s.layout.root])
    // Progress reaches the table within a heartbeat (1 s): another process sees it.
    let running: unknown[] = []
    await until(async () => {
      const seen = await hiveInProcess(['--data-dir', s.layout.root, 'status', '--json'])
      running = JSON.parse(seen.stdout).running
      return (running[0] as { phase?: string } | undefined)?.phase === 'crawling'
    }, 5000)
    expect(running).toEqual([
      expect.objectContaining({
        kind: 'test.slow',
        status: 'running',
        pid: proc.pid,
        phase: 'crawling',
        total: 1_000_000,
      }),
    ])
    proc.kill('SIGKILL')
    const log = new OperationLog({ database: s.database, staleMs: 300 })
    await until(() => log.list({ kind: 'test.slow' })[0]?.status === 'abandoned', 5000)
    expect(log.list({ kind: 'test.slow' })[0]?.estimatedRemainingMs).toBeNull()
  })

  it('are followed live by `hive status --watch` until idle', async () => {
    const s = await store()
    const dataDir = s.layout.root
    const idle = await hiveInProcess(['--data-dir', dataDir, 'status', '--watch', '--until-idle'])
    expect(idle).toMatchObject({ code: 0 })
    expect(idle.stdout).toContain('no operation in progress')
    await startChild(['operation', dataDir, '40'])
    const watched = await hiveInProcess([
      '--data-dir',
      dataDir,
      'status',
      '--watch',
      '--until-idle',
      '--interval',
      '50',
      '--json',
    ])
    expect(watched.code).toBe(0)
    const frames = watched.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    const progress = frames.flatMap((f) => f.running.map((op: { done: number }) => op.done))
    expect(progress.length).toBeGreaterThan(2)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(frames.at(-1).running).toEqual([])
    // While it ran, with a known total: an estimate of the time left.
    expect(
      frames
        .flatMap((f) => f.running)
        .some((op: { estimatedRemainingMs: unknown }) => typeof op.estimatedRemainingMs === 'number'),
    ).toBe(true)
    expect(s.operations.list({ kind: 'test.slow' })[0]).toMatchObject({
      status: 'succeeded',
      done: 39,
      total: 40,
    })
  })

  it('are recorded for every long command: migrate, gc, vacuum, retention, check, export, import, backup, restore', async () => {
    const dataDir = tempDir()
    const hive = (...args: string[]) => hiveInProcess(['--data-dir', dataDir, ...args])
    expect((await hive('migrate')).code).toBe(0)
    const s = await openHiveStore({ dataDir })
    open.push(s)
    const { cell } = await withData(s, 2)
    const out = tempDir()
    for (const args of [
      ['gc', '--dry-run'],
      ['gc'],
      ['vacuum'],
      ['retention', 'apply'],
      ['check'],
      ['export', '--cell', cell.id, '-o', join(out, 'cell.tar')],
      ['import', join(out, 'cell.tar')],
      ['backup', join(out, 'backup')],
      ['restore', join(out, 'backup')],
    ]) {
      const result = await hive(...args)
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
      // (The restore brings back the database as the backup saw it: its own record still running.)
      if (args[0] === 'backup') expect(s.operations.list({ kind: 'backup' })[0]?.status).toBe('succeeded')
    }
    writeFileSync(join(out, 'bad.tar'), 'not a tar at all')
    expect((await hive('import', join(out, 'bad.tar'))).code).toBe(1)
    const kinds = new Map(s.operations.list({ limit: 100 }).map((op) => [op.kind, op]))
    for (const kind of [
      'migrate.up',
      'gc.dry-run',
      'gc',
      'vacuum',
      'retention.apply',
      'check',
      'export',
      'restore',
    ])
      expect(kinds.get(kind)?.status, kind).toBe('succeeded')
    expect(
      s.operations
        .list({ kind: 'import.skip' })
        .map((op) => op.status)
        .sort(),
    ).toEqual(['failed', 'succeeded'])
    expect(
      s.operations.list({ kind: 'import.skip' }).find((op) => op.status === 'failed')?.error,
    ).toMatchObject({
      code: 'BUNDLE_INVALID',
    })
    expect(kinds.get('gc')?.result).toMatchObject({ dryRun: false, scanned: 2 })
    // A command that failed is shown, for a day; it is not a problem of the store (exit 0).
    const status = await hive('status')
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/failed: import\.skip at .*\[BUNDLE_INVALID\]/)
    expect(kinds.get('check')?.result).toMatchObject({ ok: true, problems: 0 })
  })

  it('stream to an async iterable until its signal aborts', async () => {
    const s = await store()
    const controller = new AbortController()
    const seen: string[] = []
    const reading = (async () => {
      for await (const op of s.operations.updates(controller.signal)) {
        seen.push(`${op.status}:${op.done}`)
        if (op.status !== 'running') controller.abort()
      }
    })()
    await s.operations.track('test.steps', async (progress) => {
      for (let done = 1; done <= 3; done++) progress({ phase: 'step', done, total: 3 })
      return 'done'
    })
    await reading
    expect(seen).toEqual(['running:null', 'running:1', 'running:2', 'running:3', 'succeeded:3'])
  })

  it('are recorded even when they end inside someone else’s transaction on the connection', async () => {
    const s = await store()
    await s.database.db.transaction().execute(async (trx) => {
      await trx.selectFrom('cells').selectAll().execute()
      await s.operations.track('test.in-transaction', async (progress) => {
        progress({ phase: 'one', done: 1, total: 1 })
        return 'done'
      })
      await new Promise((resolve) => setTimeout(resolve, 60))
    })
    await until(() => s.operations.list({ kind: 'test.in-transaction' })[0]?.status === 'succeeded', 5000)
    expect(s.operations.list({ kind: 'test.in-transaction' })[0]).toMatchObject({
      done: 1,
      total: 1,
      phase: 'one',
    })
  })

  it('keep the last N of each kind, and forget the dead after a week', async () => {
    const s = await store()
    const log = new OperationLog({ database: s.database, keepPerKind: 3 })
    s.database.sqlite
      .prepare(
        "INSERT INTO operations (id, kind, state, pid, host, started_at, heartbeat_at) VALUES ('op_dead', 'test.dead', 'running', 1, 'h', ?, ?)",
      )
      .run(Date.now() - 8 * 24 * 3600_000, Date.now() - 8 * 24 * 3600_000)
    for (let i = 0; i < 5; i++)
      await log.track(
        'test.kept',
        async () => i,
        (n) => n,
      )
    for (let i = 0; i < 5; i++) log.record('test.recorded', { startedAt: Date.now(), result: i })
    expect(log.list({ kind: 'test.kept' }).map((op) => op.result)).toEqual([4, 3, 2])
    expect(log.list({ kind: 'test.recorded' })).toHaveLength(3)
    expect(log.list({ kind: 'test.dead' })).toEqual([])
  })

  it('`hive status --watch` stops at once on Ctrl-C, whatever its interval', async () => {
    const s = await store()
    const dataDir = s.layout.root
    await s.close()
    open.pop()
    const cli = join(import.meta.dirname, '..', 'src', 'cli.ts')
    const proc = spawnChild(cli, ['--data-dir', dataDir, 'status', '--watch', '--interval', '600000'])
    children.push(proc)
    let out = ''
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk
        if (out.includes('no operation in progress')) resolve()
      })
      proc.on('exit', () => reject(new Error(`exited early: ${out}`)))
    })
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
    proc.kill('SIGINT')
    // Without waking on the signal it would sleep out its ten-minute interval (and time out here).
    expect(await exited).toBe(0)
    expect(out).toMatch(/^hive status --watch \(Ctrl-C to stop\)/)
  })
})
