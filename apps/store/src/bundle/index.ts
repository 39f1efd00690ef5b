export type { BundleManifest } from './bundle-manifest.js'
export { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, bundleManifestSchema } from './bundle-manifest.js'
export type { BundleTable, BundleTableName } from './bundle-tables.js'
export { BUNDLE_TABLE_NAMES, BUNDLE_TABLES } from './bundle-tables.js'
export type { ExportBundleOptions, ExportBundleResult } from './export-bundle.js'
export { exportBundle } from './export-bundle.js'
export type {
  ConflictPolicy,
  ImportBundleOptions,
  ImportBundleResult,
  TableOutcome,
} from './import-bundle.js'
export { CONFLICT_POLICIES, importBundle } from './import-bundle.js'
