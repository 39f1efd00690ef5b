export type { CollectGarbageOptions, CollectGarbageResult } from './collect-garbage.js'
export { collectGarbage } from './collect-garbage.js'
export type { DeletedRows } from './delete-gently.js'
export { deleteCellGently, deleteSessionsGently } from './delete-gently.js'
export { Lease } from './lease.js'
export type { IntegrityFindings, MaintenanceRunnerOptions } from './maintenance-runner.js'
export { MAINTENANCE_LEASE, MaintenanceRunner } from './maintenance-runner.js'
export type {
  MaintenanceSettings,
  MaintenanceSettingsPatch,
  MaintenanceTask,
} from './maintenance-settings.js'
export {
  MAINTENANCE_SETTING,
  MAINTENANCE_TASKS,
  maintenanceSettingsSchema,
  readMaintenanceSettings,
  writeMaintenanceSettings,
} from './maintenance-settings.js'
export type {
  ApplyRetentionOptions,
  ArtifactReason,
  PlannedArtifact,
  PlannedCell,
  PlannedSession,
  RetentionPlan,
  RetentionResult,
} from './retention.js'
export { applyRetention, isEmptyPlan, planRetention } from './retention.js'
export type { RetentionPolicy, RetentionPolicyPatch } from './retention-policy.js'
export {
  isEmptyPolicy,
  RETENTION_SETTING,
  readRetentionPolicy,
  retentionPolicySchema,
  writeRetentionPolicy,
} from './retention-policy.js'
export type { StoreUsage, UsageLine } from './usage.js'
export { storeUsage, withBlobFiles } from './usage.js'
export type { VacuumOptions, VacuumResult } from './vacuum.js'
export { vacuumStore } from './vacuum.js'
