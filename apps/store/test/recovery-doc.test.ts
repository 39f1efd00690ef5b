import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '@hive/testing'
import { describe, expect, it } from 'vitest'
import { program } from '../src/cli/main.js'
import { type HiveStore, openHiveStore } from '../src/index.js'
import { hive, hiveInProcess } from './helpers.js'
import {
  corruptBlob,
  countRows,
  databaseOf,
  garblePages,
  leafPagesOf,
  seedStore,
} from './integrity-fixture.js'

const DOC = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'recovery.md'), 'utf8')

/** The `hive …` lines of a ```sh block, comments stripped, split into arguments. */
function commandsOf(block: string): string[][] {
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('hive '))
    .map((line) => line.split(/\s+/).slice(1))
}

/** Every ```sh block of the doc. */
const blocks = [...DOC.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1] as string)

/** The block that follows `<!-- procedure: name -->`. */
function procedure(name: string): string[][] {
  const match = DOC.match(new RegExp(`<!-- procedure: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``))
  if (!match) throw new Error(`docs/recovery.md has no procedure ${name}`)
  return commandsOf(match[1] as string)
}

/** Runs a documented procedure's commands in order on `dir`, as a user would, returning exit codes. */
async function follow(name: string, dir: string) {
  const steps: Array<{ args: string[]; code: number | null; stdout: string; stderr: string }> = []
  for (const args of procedure(name)) {
    // The real command line, in a child process: what the user runs.
    const result = await hive(['--data-dir', dir, ...args])
    steps.push({ args, code: result.code, stdout: result.stdout, stderr: result.stderr })
  }
  return steps
}

async function rows(dir: string): Promise<Record<string, number>> {
  let store: HiveStore | undefined
  try {
    store = await openHiveStore({ dataDir: dir })
    return countRows(store)
  } finally {
    await store?.close()
  }
}

async function readTranscripts(dir: string, sessions: readonly string[]): Promise<void> {
  const store = await openHiveStore({ dataDir: dir })
  try {
    for (const session of sessions) await store.services.transcripts.page(session, { limit: 1000 })
  } finally {
    await store.close()
  }
}

describe('docs/recovery.md', () => {
  it('recovers a damaged database by following the documented procedure', async () => {
    const dir = tempDir()
    const { counts, sessions } = await seedStore(dir, { cells: 4, messages: 40 })
    const path = databaseOf(dir)
    const pages = leafPagesOf(path, 'parts')
    garblePages(path, pages[3]!, pages[4]!)
    // The symptom the doc starts from: reading transcripts fails with a typed error.
    await expect(readTranscripts(dir, sessions)).rejects.toMatchObject({ code: 'DATABASE_CORRUPT' })

    const steps = await follow('damaged-database', dir)
    expect(steps.map((s) => s.args)).toEqual([['check'], ['recover'], ['check']])
    expect(steps.map((s) => s.code)).toEqual([1, 0, 0])
    for (const step of steps) expect(step.stderr).toBe('')
    expect(steps[0]!.stdout).toMatch(/^problem {3}database-corrupt: /m)
    expect(steps[1]!.stdout).toMatch(/^the damaged file is kept as .+quarantine/m)
    expect(steps[2]!.stdout).toMatch(/^ok: no problems/m)

    // Most rows are back: everything but the parts on the two damaged pages.
    await readTranscripts(dir, sessions)
    const after = await rows(dir)
    expect(after.cells).toBe(counts.cells)
    expect(after.messages).toBe(counts.messages)
    expect(after.parts).toBeLessThan(counts.parts!)
    expect(after.parts).toBeGreaterThan(counts.parts! * 0.8)

    // "Verifying afterwards".
    expect((await hiveInProcess(['--data-dir', dir, 'check', '--full'])).code).toBe(0)
    expect((await hiveInProcess(['--data-dir', dir, 'migrate', 'verify'])).code).toBe(0)
  })

  it('repairs a corrupt blob by following the documented procedure', async () => {
    const dir = tempDir()
    const { artifacts } = await seedStore(dir, { cells: 2, messages: 5 })
    corruptBlob(dir, artifacts[0]!.hash)

    const steps = await follow('damaged-blob', dir)
    expect(steps.map((s) => s.args)).toEqual([['check'], ['check', '--repair'], ['check']])
    expect(steps.map((s) => s.code)).toEqual([1, 0, 0])
    expect(steps[0]!.stdout).toContain(`problem   blob-corrupt: blob ${artifacts[0]!.hash} is corrupt`)
    expect(steps[1]!.stdout).toContain('repaired  blob-quarantined')
    expect(steps[1]!.stdout).toContain('repaired  artifact-marked-missing')

    const store = await openHiveStore({ dataDir: dir })
    try {
      expect((await store.services.artifacts.get(artifacts[0]!.id)).status).toBe('missing')
    } finally {
      await store.close()
    }
  })

  it('documents only commands and options that exist', () => {
    const commands = new Map(
      program({ io: { stdout: () => {}, stderr: () => {}, env: {}, now: Date.now }, code: 0 }).commands.map(
        (command) => [command.name(), command],
      ),
    )
    // Backup and restore have their own issue: the doc may name them before they exist.
    const elsewhere = new Set(['backup', 'restore'])
    const documented = blocks.flatMap(commandsOf)
    expect(documented.length).toBeGreaterThan(10)
    for (const [name, ...args] of documented) {
      if (!commands.has(name!) && elsewhere.has(name!)) continue
      const command = commands.get(name!)
      expect(command, `hive ${name}`).toBeDefined()
      const flags = new Set(command!.options.map((option) => option.long))
      for (const flag of args.filter((arg) => arg.startsWith('--')))
        expect(flags, `hive ${name} ${flag}`).toContain(flag)
    }
    // Every command the procedures run is documented in a procedure the tests follow.
    expect(procedure('damaged-database').map((args) => args[0])).toEqual(['check', 'recover', 'check'])
    expect(DOC).toContain('hive backup DEST')
    expect(DOC).toContain('hive restore SRC')
    expect(DOC).toContain('hive migrate restore')
  })
})
