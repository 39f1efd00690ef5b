import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { HiveStorageError } from '@hive/errors'
import { loadMigration } from './folder-migration-source.js'
import type { Migration, MigrationModule, MigrationSource } from './migration.js'
import * as m0001 from './migrations/0001_initial_schema.js'
import * as m0002 from './migrations/0002_exact_search_index.js'
import * as m0003 from './migrations/0003_transcript_artifacts.js'
import * as m0004 from './migrations/0004_operations.js'

/** The migrations of Hive's schema, in order. Add new ones here and in `src/migrations/`. */
const MODULES: ReadonlyArray<readonly [string, MigrationModule]> = [
  ['0001_initial_schema', m0001],
  ['0002_exact_search_index', m0002],
  ['0003_transcript_artifacts', m0003],
  ['0004_operations', m0004],
]

// The TypeScript sources ship with the package (`src/migrations`), and checksums are taken over
// them rather than over compiled output, which changes with the compiler.
const SOURCES = new URL('../src/migrations/', import.meta.url)

/**
 * The migrations that create and evolve Hive's schema (DESIGN.md's complete data model, its
 * indexes, the FTS5 search index and the triggers that keep it current).
 *
 * @example
 * ```ts
 * const migrator = new Migrator({ dialect: database.dialect, source: hiveMigrations })
 * await migrator.up()
 * ```
 */
export const hiveMigrations: MigrationSource = {
  async getMigrations(): Promise<readonly Migration[]> {
    return MODULES.map(([name, module]) => {
      const path = fileURLToPath(new URL(`${name}.ts`, SOURCES))
      let source: string
      try {
        source = readFileSync(path, 'utf8')
      } catch (cause) {
        throw new HiveStorageError(
          'INTERNAL',
          `the source of migration ${name} is missing from @hive/migrations (${path}): the package is incomplete`,
          { value: path, cause },
        )
      }
      return loadMigration(name, module, source, path)
    })
  },
}

/** Names of the built-in migrations, for tests that hold the list and the folder together. */
export const HIVE_MIGRATION_NAMES: readonly string[] = MODULES.map(([name]) => name)
