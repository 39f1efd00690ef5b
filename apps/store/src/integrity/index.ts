export type { BlobSample } from './blob-sample.js'
export { parseBlobSample } from './blob-sample.js'
export { checkDataDir } from './check-data-dir.js'
export type {
  CheckOrphans,
  CheckProblem,
  CheckProblemKind,
  CheckReport,
  CheckStats,
  RepairAction,
  RepairKind,
} from './check-report.js'
export type { CheckOptions } from './check-store.js'
export { checkStore } from './check-store.js'
export type { DanglingReference } from './foreign-keys.js'
export type { RecoverOptions, RecoverReport } from './recover-database.js'
export { recoverDatabase } from './recover-database.js'
export type { SearchIndexState } from './search-index.js'
export type { TableSalvage } from './table-salvage.js'
