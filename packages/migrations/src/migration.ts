// biome-ignore-all lint/suspicious/noExplicitAny: migrations run against whatever schema exists.
import type { Kysely } from 'kysely'

/** What a migration module exports. */
export interface MigrationModule {
  /** Applies the change. Runs inside a transaction that the migrator opens and commits. */
  up(db: Kysely<any>): Promise<void>
  /**
   * Undoes the change. A migration that cannot be undone (it drops data) throws here; its
   * pre-migration snapshot is then the way back.
   */
  down(db: Kysely<any>): Promise<void>
  /**
   * `'off'` for migrations that rebuild tables (SQLite's 12-step ALTER): foreign keys are off
   * during the transaction and `foreign_key_check` must come back clean before it commits.
   */
  readonly foreignKeys?: 'off'
}

/** A migration as the migrator sees it: a module with its name and the checksum of its source. */
export interface Migration extends MigrationModule {
  /** Sorts migrations: `0001_initial_schema`, `0002_…`. */
  readonly name: string
  /** SHA-256 of the migration's source text, recorded when it is applied. */
  readonly checksum: string
}

/** Where migrations come from. */
export interface MigrationSource {
  getMigrations(): Promise<readonly Migration[]>
}

/** Migration names: four or more digits, an underscore, then lower-case words. */
export const MIGRATION_NAME = /^\d{4,}_[a-z0-9_]+$/
