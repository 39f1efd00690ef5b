export { CELL_STATUS_TRANSITIONS, canTransition } from './cell-status.js'
export type { JsonObject, JsonValue } from './columns.js'
export {
  boundedJsonObjectSchema,
  jsonObjectSchema,
  jsonTextSchema,
  jsonValueSchema,
  MAX_JSON_BYTES,
  timestampSchema,
} from './columns.js'
export type { ColumnType, Database, Generated } from './database.js'
export type { ArtifactRow, BlobRow, NewArtifact } from './entities/artifact.js'
export {
  artifactRowSchema,
  blobHashSchema,
  blobRowSchema,
  contentTypeSchema,
  newArtifactSchema,
} from './entities/artifact.js'
export type { CellPatch, CellRow, NewCell } from './entities/cell.js'
export { cellPatchSchema, cellRowSchema, newCellSchema } from './entities/cell.js'
export type { CellLinkRow, NewCellLink } from './entities/cell-link.js'
export { cellLinkRowSchema, newCellLinkSchema } from './entities/cell-link.js'
export type { CellProvisioningInput, CellProvisioningRow } from './entities/cell-provisioning.js'
export { cellProvisioningInputSchema, cellProvisioningRowSchema } from './entities/cell-provisioning.js'
export type { CellServiceRow, NewCellService } from './entities/cell-service.js'
export { cellServiceRowSchema, newCellServiceSchema } from './entities/cell-service.js'
export type { EventRow, NewEvent } from './entities/event.js'
export { eventRowSchema, eventTypeSchema, newEventSchema } from './entities/event.js'
export type { MessageRow } from './entities/message.js'
export { messageRowSchema } from './entities/message.js'
export type { MetricRow, NewMetric } from './entities/metric.js'
export { metricRowSchema, newMetricSchema } from './entities/metric.js'
export type { LeaseRow, OperationRow, OperationState } from './entities/operation.js'
export {
  leaseRowSchema,
  OPERATION_STATES,
  operationKindSchema,
  operationRowSchema,
  operationStateSchema,
} from './entities/operation.js'
export type { PartRow } from './entities/part.js'
export { partRowSchema } from './entities/part.js'
export type { NewPlan, NewPlanFeedback, PlanFeedbackRow, PlanRow } from './entities/plan.js'
export {
  newPlanFeedbackSchema,
  newPlanSchema,
  planFeedbackRowSchema,
  planRowSchema,
} from './entities/plan.js'
export type { SearchDocumentRow } from './entities/search-document.js'
export { SEARCH_SOURCE_CODES, searchDocumentRowSchema } from './entities/search-document.js'
export type { NewSession, SessionRow } from './entities/session.js'
export { newSessionSchema, sessionRowSchema } from './entities/session.js'
export type { SettingRow } from './entities/setting.js'
export { settingKeySchema, settingRowSchema } from './entities/setting.js'
export type { NewWorkspace, WorkspaceRow } from './entities/workspace.js'
export { newWorkspaceSchema, workspaceRowSchema } from './entities/workspace.js'
export type {
  ArtifactStatus,
  ArtifactType,
  BlobEncoding,
  CellLinkType,
  CellStatus,
  CellType,
  EventSource,
  KnownPartType,
  MessageRole,
  MessageState,
  PlanStatus,
  SearchKind,
  ServiceStatus,
  SessionMode,
  SessionStatus,
  StartMode,
} from './enums.js'
export {
  ARTIFACT_STATUSES,
  ARTIFACT_TYPES,
  artifactStatusSchema,
  artifactTypeSchema,
  BLOB_ENCODINGS,
  blobEncodingSchema,
  CELL_LINK_TYPES,
  CELL_STATUSES,
  CELL_TYPES,
  cellLinkTypeSchema,
  cellStatusSchema,
  cellTypeSchema,
  EVENT_SOURCES,
  eventSourceSchema,
  KNOWN_PART_TYPES,
  MESSAGE_ROLES,
  MESSAGE_STATES,
  messageRoleSchema,
  messageStateSchema,
  PLAN_STATUSES,
  planStatusSchema,
  SEARCH_KINDS,
  SERVICE_STATUSES,
  SESSION_MODES,
  SESSION_STATUSES,
  START_MODES,
  searchKindSchema,
  serviceStatusSchema,
  sessionModeSchema,
  sessionStatusSchema,
  startModeSchema,
} from './enums.js'
export type { IdGeneratorOptions, IdKind } from './ids.js'
export { createIdGenerator, ID_PREFIXES, idSchema, ids, idTime } from './ids.js'
export type { TableDefinition, TableName } from './tables.js'
export { TABLES } from './tables.js'
