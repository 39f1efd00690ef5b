export * from './backup/index.js'
export * from './bundle/index.js'
export type { CliIo } from './cli/cli-io.js'
export { main } from './cli/main.js'
export type { DataDirLayout } from './data-dir.js'
export { dataDirLayout, defaultDataDir, ensureDataDir } from './data-dir.js'
export type {
  DataDirMigrationsConfig,
  RestoreReport,
  SchemaDifference,
  VerifyReport,
} from './data-dir-migrations.js'
export { DataDirMigrations } from './data-dir-migrations.js'
export { HIVE_APPLICATION_ID, openHiveDatabase } from './hive-database.js'
export * from './integrity/index.js'
export * from './maintenance/index.js'
export * from './opencode/index.js'
export * from './operations/index.js'
export type { StoreStatus } from './operations/store-status.js'
export { storeStatus } from './operations/store-status.js'
export type { ProgressEvent, ProgressListener } from './progress.js'
export type { SnapshotInfo, SnapshotKind } from './snapshot-store.js'
export { SnapshotStore } from './snapshot-store.js'
export type { HiveStore, OpenHiveStoreOptions } from './store.js'
export { openHiveStore } from './store.js'
