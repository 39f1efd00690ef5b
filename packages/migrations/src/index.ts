export { checksumSource } from './checksum.js'
export type { FolderMigrationSourceConfig } from './folder-migration-source.js'
export { FolderMigrationSource } from './folder-migration-source.js'
export { HIVE_MIGRATION_NAMES, hiveMigrations } from './hive-migrations.js'
export type { Migration, MigrationModule, MigrationSource } from './migration.js'
export { MIGRATION_NAME } from './migration.js'
export type { AppliedMigration } from './migration-history.js'
export { HISTORY_TABLE } from './migration-history.js'
export type { MigrationState, MigrationStatus, MigrationStatusEntry } from './migration-status.js'
export type {
  DownOptions,
  MigrationOutcome,
  MigrationResult,
  MigrationRunResult,
  MigratorConfig,
  PlannedChange,
  UpOptions,
} from './migrator.js'
export { Migrator } from './migrator.js'
