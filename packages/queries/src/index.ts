export type { Artifact } from './artifact.js'
export { toArtifact } from './artifact.js'
export type {
  ArtifactContentInput,
  ArtifactContentStore,
  OpenedContent,
  StoredContent,
} from './artifact-content-store.js'
export type {
  ArtifactPage,
  ArtifactServiceConfig,
  ListArtifactsOptions,
  OpenArtifactOptions,
  OpenedArtifact,
} from './artifact-service.js'
export { ArtifactService } from './artifact-service.js'
export type { Cell, CellLink, CellListQuery, CellProcess, CellProvisioning } from './cell-service.js'
export { CellService, toCell } from './cell-service.js'
export { decodeCursor, encodeCursor } from './cursor.js'
export { ftsString, MAX_QUERY_LENGTH, MAX_QUERY_TERMS, userQuery } from './fts-query.js'
export type { AggregateFilter, MetricAggregate, MetricFilter, MetricSample } from './metric-service.js'
export { MetricService } from './metric-service.js'
export type { Plan, PlanFeedback } from './plan-service.js'
export { PlanService } from './plan-service.js'
export type { QueryExecutor } from './prepared.js'
export { PreparedQuery } from './prepared.js'
export type { QueryServices, QueryServicesConfig } from './query-services.js'
export { createQueryServices } from './query-services.js'
export type { SearchHit, SearchQuery, SnippetSegment } from './search-service.js'
export { matchExpression, SearchService } from './search-service.js'
export type { Session } from './session-service.js'
export { SessionService, toSession } from './session-service.js'
export type { SyncWriter, WriteSteps } from './sync-writer.js'
export { runWrite } from './sync-writer.js'
export type { TimelineBucketsQuery, TimelineEvent, TimelineQuery } from './timeline.js'
export { insertEvent, TimelineService } from './timeline.js'
export type { TokenCounts } from './transcript-record.js'
export { TranscriptMessage, TranscriptPart } from './transcript-record.js'
export type {
  AppendInput,
  MessageInfo,
  PartInput,
  TranscriptPage,
  TranscriptPageQuery,
  TranscriptRef,
  TranscriptServiceConfig,
} from './transcript-service.js'
export { MAX_OBJECT_BYTES, messageInfoSchema, partSchema, TranscriptService } from './transcript-service.js'
export type { Workspace } from './workspace-service.js'
export { WorkspaceService } from './workspace-service.js'
