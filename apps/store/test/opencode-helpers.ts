import { createHash } from 'node:crypto'
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { TABLES } from '@hive/schema'
import { tempDir } from '@hive/testing'
import { expect, onTestFinished } from 'vitest'
import { type HiveStore, openHiveStore } from '../src/index.js'

/**
 * The shared OpenCode fixtures: `shared/fixtures/opencode` beside the repository (the repository
 * is `<x>/main`, the fixtures `<x>/shared`). Only tests read them.
 */
export const FIXTURES =
  process.env.HIVE_FIXTURES ??
  join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'fixtures', 'opencode')
export const JSON_STORAGE = join(FIXTURES, 'json-storage')
export const OPENCODE_DB = join(FIXTURES, 'opencode.db')

export const PARENT = 'ses_3dc2dae3fffej8ZUqcYmE0lMvl'
export const CHILD = 'ses_3dc2b5725ffettlMUkNvfTPIi2'
export const OTHER = 'ses_3d2e19fceffeXhEI3l6FcrnrKl'

/** A new data directory with a migrated store, closed when the test ends. */
export async function newStore(): Promise<HiveStore> {
  const store = await openHiveStore({ dataDir: tempDir(), create: true, migrate: 'auto' })
  onTestFinished(() => store.close())
  return store
}

/** A writable copy of a fixture file or directory (the fixtures themselves are read-only). */
export function copyFixture(what: 'json-storage' | 'opencode.db'): string {
  const dir = tempDir('hive-opencode-fixture-')
  const target = join(dir, what)
  cpSync(join(FIXTURES, what), target, { recursive: true })
  const writable = (path: string) => {
    const stat = statSync(path)
    chmodSync(path, stat.isDirectory() ? 0o755 : 0o644)
    if (stat.isDirectory()) for (const name of readdirSync(path)) writable(join(path, name))
  }
  writable(target)
  return target
}

/** Every file under `dir` with its SHA-256: proves that nothing was changed, added or removed. */
export function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (path: string) => {
    const stat = statSync(path)
    if (stat.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name))
    else out[relative(dir, path) || '.'] = createHash('sha256').update(readFileSync(path)).digest('hex')
  }
  if (existsSync(dir)) walk(dir)
  return out
}

type Row = Record<string, unknown>

/** Each table's rows (the derived search index and the operations' bookkeeping aside), for before/after comparisons. */
export function tableRows(store: HiveStore): Record<string, Row[]> {
  const out: Record<string, Row[]> = {}
  for (const [name, table] of Object.entries(TABLES)) {
    if ('virtual' in table || name === 'operations' || name === 'leases') continue
    const order = table.primaryKey.length > 0 ? table.primaryKey.join(', ') : 'rowid'
    out[name] = store.database.sqlite.prepare(`SELECT * FROM ${name} ORDER BY ${order}`).all() as Row[]
  }
  return out
}

/** A hash of every table's content. */
export function contentHash(store: HiveStore): string {
  return createHash('sha256')
    .update(JSON.stringify(tableRows(store)))
    .digest('hex')
}

/** The rows (by table and id) that differ between two {@link tableRows} dumps. */
export function changedRows(before: Record<string, Row[]>, after: Record<string, Row[]>): string[] {
  const changed: string[] = []
  for (const name of Object.keys(after)) {
    const key = (row: Row) => String(row.id ?? row.hash ?? row.key ?? JSON.stringify(row))
    const old = new Map((before[name] ?? []).map((row) => [key(row), JSON.stringify(row)]))
    const now = new Map((after[name] ?? []).map((row) => [key(row), JSON.stringify(row)]))
    for (const [id, row] of now) if (old.get(id) !== row) changed.push(`${name}:${id}`)
    for (const id of old.keys()) if (!now.has(id)) changed.push(`${name}:${id} (removed)`)
  }
  return changed.sort()
}

export function count(store: HiveStore, sql: string, ...args: unknown[]): number {
  return store.database.sqlite
    .prepare(sql)
    .pluck()
    .get(...args) as number
}

/**
 * Asserts that the store holds the three fixture sessions exactly as the fixture README counts
 * them, mapped as `importOpencode` maps them.
 */
export function expectFixtureImported(store: HiveStore): void {
  const q = (sql: string, ...args: unknown[]) => count(store, sql, ...args)
  const of = (external: string) =>
    `session_id = (SELECT id FROM sessions WHERE provider = 'opencode' AND external_id = '${external}')`
  const partsOf = (external: string) => `message_id IN (SELECT id FROM messages WHERE ${of(external)})`
  // Totals: 2 projects, 3 sessions, 40 messages (8 user / 32 assistant), 134 parts.
  expect(q("SELECT count(*) FROM sessions WHERE provider = 'opencode'")).toBe(3)
  expect(q('SELECT count(*) FROM messages')).toBe(40)
  expect(q("SELECT count(*) FROM messages WHERE role = 'user'")).toBe(8)
  expect(q("SELECT count(*) FROM messages WHERE role = 'assistant'")).toBe(32)
  expect(q('SELECT count(*) FROM parts')).toBe(134)

  const expected = {
    [PARENT]: {
      messages: [20, 4, 16],
      parts: 71,
      types: { text: 16, tool: 16, 'step-start': 16, 'step-finish': 16, patch: 5, file: 1, agent: 1 },
      tools: { bash: 4, edit: 5, read: 3, task: 1, todowrite: 2, write: 1 },
      states: { completed: 15, error: 1 },
      finish: { 'tool-calls': 12, stop: 4 },
      cost: 0.2237247,
      summary: { additions: 109, deletions: 4, files: 3 },
    },
    [CHILD]: {
      messages: [5, 1, 4],
      parts: 15,
      types: { text: 3, tool: 4, 'step-start': 4, 'step-finish': 4 },
      tools: { glob: 1, grep: 2, read: 1 },
      states: { completed: 4 },
      finish: { 'tool-calls': 3, stop: 1 },
      cost: 0.0548745,
      summary: { additions: 0, deletions: 0, files: 0 },
    },
    [OTHER]: {
      messages: [15, 3, 12],
      parts: 48,
      types: { text: 6, reasoning: 5, tool: 11, 'step-start': 12, 'step-finish': 11, patch: 2, file: 1 },
      tools: { bash: 5, edit: 2, glob: 1, read: 3 },
      states: { completed: 9, error: 2 },
      finish: { 'tool-calls': 9, stop: 2 },
      cost: 0.05312125,
      summary: { additions: 14, deletions: 4, files: 2 },
    },
  }
  const grouped = (sql: string) =>
    Object.fromEntries(
      (store.database.sqlite.prepare(sql).all() as Array<{ k: string; n: number }>).map((r) => [r.k, r.n]),
    )
  for (const [external, want] of Object.entries(expected)) {
    expect(q(`SELECT count(*) FROM messages WHERE ${of(external)}`)).toBe(want.messages[0])
    expect(q(`SELECT count(*) FROM messages WHERE role = 'user' AND ${of(external)}`)).toBe(want.messages[1])
    expect(q(`SELECT count(*) FROM messages WHERE role = 'assistant' AND ${of(external)}`)).toBe(
      want.messages[2],
    )
    expect(q(`SELECT count(*) FROM parts WHERE ${partsOf(external)}`)).toBe(want.parts)
    expect(
      grouped(`SELECT type AS k, count(*) AS n FROM parts WHERE ${partsOf(external)} GROUP BY type`),
    ).toEqual(want.types)
    expect(
      grouped(
        `SELECT json_extract(data, '$.tool') AS k, count(*) AS n FROM parts WHERE type = 'tool' AND ${partsOf(external)} GROUP BY k`,
      ),
    ).toEqual(want.tools)
    expect(
      grouped(
        `SELECT json_extract(data, '$.state.status') AS k, count(*) AS n FROM parts WHERE type = 'tool' AND ${partsOf(external)} GROUP BY k`,
      ),
    ).toEqual(want.states)
    expect(
      grouped(
        `SELECT json_extract(data, '$.finish') AS k, count(*) AS n FROM messages WHERE role = 'assistant' AND json_extract(data, '$.finish') IS NOT NULL AND ${of(external)} GROUP BY k`,
      ),
    ).toEqual(want.finish)
    const cost = store.database.sqlite
      .prepare(`SELECT total(cost) FROM messages WHERE ${of(external)}`)
      .pluck()
      .get() as number
    expect(cost).toBeCloseTo(want.cost, 9)
    const data = JSON.parse(
      store.database.sqlite
        .prepare("SELECT data FROM sessions WHERE provider = 'opencode' AND external_id = ?")
        .pluck()
        .get(external) as string,
    )
    expect(data.summary).toMatchObject(want.summary)
    expect(data.version).toBe('1.1.65')
  }
  // Messages and parts keep OpenCode's ids and order.
  const ordered = store.database.sqlite
    .prepare(`SELECT id FROM messages WHERE ${of(PARENT)} ORDER BY seq`)
    .pluck()
    .all() as string[]
  expect(ordered).toEqual([...ordered].sort())
  // The aborted message: error state, the three parts it has, zero tokens.
  const aborted = store.database.sqlite
    .prepare(
      "SELECT state, tokens_input, tokens_output, json_extract(error, '$.name') AS name FROM messages WHERE id = ?",
    )
    .get('msg_c2d2077ee0012jsHR8qcEsWNOE')
  expect(aborted).toEqual({ state: 'error', tokens_input: 0, tokens_output: 0, name: 'MessageAbortedError' })
  expect(
    store.database.sqlite
      .prepare('SELECT type FROM parts WHERE message_id = ? ORDER BY seq')
      .pluck()
      .all('msg_c2d2077ee0012jsHR8qcEsWNOE'),
  ).toEqual(['step-start', 'reasoning', 'tool'])
  // The task tool part names the sub-agent session.
  expect(
    q(
      "SELECT count(*) FROM parts WHERE id = 'prt_c23d49ca40024hDHt2HXAlxTOn' AND json_extract(data, '$.state.metadata.sessionId') = ?",
      CHILD,
    ),
  ).toBe(1)
}

/**
 * Asserts the mapping: one workspace per project (by worktree), one cell per top-level session,
 * the sub-agent session in its parent's cell, linked to the parent session.
 */
export function expectFixtureMapping(store: HiveStore): void {
  const sessions = store.database.sqlite
    .prepare(
      "SELECT s.external_id, s.cell_id, s.parent_session_id, s.title, s.model, s.created_at, c.name AS cell_name, c.opencode_session_id, c.status, w.root_path FROM sessions s JOIN cells c ON c.id = s.cell_id JOIN workspaces w ON w.id = c.workspace_id WHERE s.provider = 'opencode'",
    )
    .all() as Array<Record<string, unknown>>
  const by = new Map(sessions.map((s) => [s.external_id as string, s]))
  expect(count(store, 'SELECT count(*) FROM workspaces')).toBe(2)
  expect(count(store, 'SELECT count(*) FROM cells')).toBe(2)
  expect(by.get(PARENT)).toMatchObject({
    root_path: '/home/sam/code/emitkit',
    cell_name: 'Add wildcard listeners and once() to emitter',
    opencode_session_id: PARENT,
    status: 'draft',
    parent_session_id: null,
    model: 'anthropic/claude-sonnet-4-5',
    created_at: 1770127512000,
  })
  expect(by.get(OTHER)).toMatchObject({
    root_path: '/home/sam/code/confmerge',
    opencode_session_id: OTHER,
    model: 'openai/gpt-5.1-codex',
  })
  const parentId = store.database.sqlite
    .prepare("SELECT id FROM sessions WHERE provider = 'opencode' AND external_id = ?")
    .pluck()
    .get(PARENT)
  expect(by.get(CHILD)).toMatchObject({
    cell_id: by.get(PARENT)?.cell_id,
    parent_session_id: parentId,
    title: 'Find listener ordering guarantees (@explore subagent)',
  })
}
