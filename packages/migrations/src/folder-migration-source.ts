import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { HiveStorageError } from '@hive/errors'
import { checksumSource } from './checksum.js'
import { MIGRATION_NAME, type Migration, type MigrationModule, type MigrationSource } from './migration.js'

export interface FolderMigrationSourceConfig {
  /** A folder of migration modules, one file per migration, named `0001_name.js` (or .mjs/.ts). */
  readonly folder: string
}

const EXTENSIONS = ['.js', '.mjs', '.ts', '.mts']

/**
 * Migrations from a folder of modules, each exporting `up` and `down`. The checksum is that of
 * the file itself. For the migrations that ship with Hive, see {@link hiveMigrations}.
 *
 * @example
 * ```ts
 * const migrator = new Migrator({ dialect, source: new FolderMigrationSource({ folder: './migrations' }) })
 * ```
 */
export class FolderMigrationSource implements MigrationSource {
  readonly #config: FolderMigrationSourceConfig

  constructor(config: FolderMigrationSourceConfig) {
    this.#config = { folder: resolve(config.folder) }
  }

  async getMigrations(): Promise<readonly Migration[]> {
    let files: string[]
    try {
      files = readdirSync(this.#config.folder).filter(
        (file) => EXTENSIONS.some((ext) => file.endsWith(ext)) && !file.endsWith('.d.ts'),
      )
    } catch (error) {
      throw new HiveStorageError('INVALID_INPUT', `cannot read migrations folder ${this.#config.folder}`, {
        value: this.#config.folder,
        cause: error,
      })
    }
    const migrations: Migration[] = []
    for (const file of files.sort()) {
      const name = file.slice(0, file.lastIndexOf('.'))
      if (!MIGRATION_NAME.test(name)) continue
      const path = join(this.#config.folder, file)
      const module = (await import(pathToFileURL(path).href)) as Partial<MigrationModule>
      migrations.push(loadMigration(name, module, readFileSync(path, 'utf8'), path))
    }
    return migrations
  }
}

/** Checks a module's exports and pairs them with its name and checksum. */
export function loadMigration(
  name: string,
  module: Partial<MigrationModule>,
  source: string,
  where: string,
): Migration {
  if (typeof module.up !== 'function' || typeof module.down !== 'function') {
    throw new HiveStorageError('INVALID_INPUT', `migration ${name} (${where}) must export up() and down()`, {
      value: name,
    })
  }
  return {
    name,
    checksum: checksumSource(source),
    up: module.up,
    down: module.down,
    ...(module.foreignKeys === 'off' ? { foreignKeys: 'off' as const } : {}),
  }
}
