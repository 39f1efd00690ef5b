// Benchmark: point select and insert through Kysely with and without the statement cache,
// against raw better-sqlite3 prepared statements, on the same file in one run.
// Run: pnpm --filter @hive/sqlite bench   (writes BENCHMARKS.md here and the README's summary)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compare, machine, replaceSection, table } from '@hive/testing'
import type { Generated } from 'kysely'
import { openDatabase } from '../src/index.js'

interface DB {
  items: { id: Generated<number>; name: string; value: number }
}

const ROWS = 100_000
const dir = mkdtempSync(join(tmpdir(), 'hive-bench-'))
const path = join(dir, 'bench.db')
const cached = openDatabase<DB>(path)
const uncached = openDatabase<DB>(path, { statementCacheSize: 0 })
cached.sqlite.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value INTEGER NOT NULL)')
cached.transaction(() => {
  const insert = cached.sqlite.prepare('INSERT INTO items (id, name, value) VALUES (?, ?, ?)')
  for (let id = 1; id <= ROWS; id++) insert.run(id, `item ${id}`, id * 7)
})

const rawSelect = cached.sqlite.prepare('SELECT id, name, value FROM items WHERE id = ?')
const rawInsert = cached.sqlite.prepare('INSERT INTO items (name, value) VALUES (?, ?)')
let seed = 42
const randomId = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return 1 + (seed % ROWS)
}

const select = await compare(
  {
    'raw better-sqlite3': (ops) => {
      for (let i = 0; i < ops; i++) rawSelect.get(randomId())
    },
    'Kysely + statement cache': async (ops) => {
      for (let i = 0; i < ops; i++) {
        await cached.db
          .selectFrom('items')
          .select(['id', 'name', 'value'])
          .where('id', '=', randomId())
          .executeTakeFirst()
      }
    },
    'Kysely, no cache': async (ops) => {
      for (let i = 0; i < ops; i++) {
        await uncached.db
          .selectFrom('items')
          .select(['id', 'name', 'value'])
          .where('id', '=', randomId())
          .executeTakeFirst()
      }
    },
  },
  { ops: 20_000 },
)

// Inserts run 1000 to a transaction, so the figures show statement overhead, not commits.
async function batched(ops: number, insert: (i: number) => unknown) {
  for (let done = 0; done < ops; done += 1000) {
    cached.sqlite.exec('BEGIN IMMEDIATE')
    for (let i = done; i < Math.min(ops, done + 1000); i++) await insert(i)
    cached.sqlite.exec('COMMIT')
  }
}
const insert = await compare(
  {
    'raw better-sqlite3': (ops) => batched(ops, (i) => rawInsert.run(`new ${i}`, i)),
    'Kysely + statement cache': (ops) =>
      batched(ops, (i) =>
        cached.db
          .insertInto('items')
          .values({ name: `new ${i}`, value: i })
          .execute(),
      ),
    // The uncached instance shares the file but not the transaction: give it its own.
    'Kysely, no cache': async (ops) => {
      for (let done = 0; done < ops; done += 1000) {
        uncached.sqlite.exec('BEGIN IMMEDIATE')
        for (let i = done; i < Math.min(ops, done + 1000); i++) {
          await uncached.db
            .insertInto('items')
            .values({ name: `new ${i}`, value: i })
            .execute()
        }
        uncached.sqlite.exec('COMMIT')
      }
    },
  },
  { ops: 20_000 },
)
uncached.close()
cached.close()
rmSync(dir, { recursive: true, force: true })

const ratio = (list: typeof select, name: string) =>
  ((list.find((m) => m.name === name)?.opsPerSecond ?? 0) / (list[0]?.opsPerSecond ?? 1)).toFixed(2)
const summary = [
  `Prepared-statement cache under Kysely (${machine()}), ${ROWS.toLocaleString('en-US')}-row table, medians of 7 interleaved rounds:`,
  '',
  `- point select: Kysely with the cache runs at **${ratio(select, 'Kysely + statement cache')}×** raw better-sqlite3, without it at ${ratio(select, 'Kysely, no cache')}×`,
  `- insert: Kysely with the cache runs at **${ratio(insert, 'Kysely + statement cache')}×** raw, without it at ${ratio(insert, 'Kysely, no cache')}×`,
].join('\n')

const here = new URL('..', import.meta.url).pathname
writeFileSync(
  join(here, 'BENCHMARKS.md'),
  `# @hive/sqlite benchmarks

Written by \`pnpm --filter @hive/sqlite bench\` (bench/statement-cache.bench.ts). Compare the
ratios, measured in one run on the same file, not the absolute figures: the machine is shared.

${summary}

## Point select by primary key

${table(select, 'raw better-sqlite3')}

## Insert (1000 per transaction)

${table(insert, 'raw better-sqlite3')}
`,
)
replaceSection(join(here, '..', '..', 'README.md'), 'sqlite', summary)
console.log(summary)
