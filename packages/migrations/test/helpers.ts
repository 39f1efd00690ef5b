import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { openDatabase, type SqliteDatabase } from '@hive/sqlite'
import { sha256File, tempDir } from '@hive/testing'
import { FolderMigrationSource, Migrator, type MigratorConfig } from '../src/index.js'

// The migration files live in temp dirs, outside node_modules' reach: they import Kysely by path.
const kysely = pathToFileURL(
  createRequire(import.meta.url)
    .resolve('kysely')
    .replace('/dist/cjs/', '/dist/esm/'),
).href

export interface MigrationSpec {
  up: string[]
  down?: string[]
  /** JavaScript run after the statements of up (e.g. `throw new Error('boom')`). */
  upCode?: string
  downCode?: string
  foreignKeys?: 'off'
}

/** Writes migration modules into `folder` (created if needed), one .mjs file per entry. */
export function writeMigrations(folder: string, specs: Record<string, MigrationSpec>): string {
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true })
  for (const [name, spec] of Object.entries(specs)) {
    writeFileSync(
      join(folder, `${name}.mjs`),
      `import { sql } from ${JSON.stringify(kysely)}
export async function up(db) {
  for (const s of ${JSON.stringify(spec.up)}) await sql.raw(s).execute(db)
  ${spec.upCode ?? ''}
}
export async function down(db) {
  for (const s of ${JSON.stringify(spec.down ?? [])}) await sql.raw(s).execute(db)
  ${spec.downCode ?? ''}
}
${spec.foreignKeys ? `export const foreignKeys = '${spec.foreignKeys}'` : ''}
`,
    )
  }
  return folder
}

export interface Fixture {
  dir: string
  path: string
  database: SqliteDatabase
  migrations: string
  migrator(config?: Partial<MigratorConfig>): Migrator
  /** The database's schema (sqlite_master) and history, to compare before and after. */
  schema(): unknown
  /** Hashes of the database file (and WAL, if any), to prove that nothing changed on disk. */
  files(): string[]
}

export function fixture(): Fixture {
  const dir = tempDir()
  const path = join(dir, 'hive.db')
  const database = openDatabase(path)
  const migrations = join(dir, 'migrations')
  mkdirSync(migrations)
  return {
    dir,
    path,
    database,
    migrations,
    migrator: (config = {}) =>
      new Migrator({
        dialect: database.dialect,
        source: new FolderMigrationSource({ folder: migrations }),
        ...config,
      }),
    schema: () => ({
      objects: database.sqlite.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').all(),
      history: database.sqlite
        .prepare("SELECT count(*) FROM sqlite_master WHERE name = 'hive_migrations'")
        .pluck()
        .get()
        ? database.sqlite.prepare('SELECT name, checksum FROM hive_migrations ORDER BY name').all()
        : [],
    }),
    files: () => [path, `${path}-wal`].filter(existsSync).map(sha256File),
  }
}
