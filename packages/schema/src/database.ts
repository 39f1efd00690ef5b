import type { ArtifactRow, BlobRow } from './entities/artifact.js'
import type { CellRow } from './entities/cell.js'
import type { CellLinkRow } from './entities/cell-link.js'
import type { CellProvisioningRow } from './entities/cell-provisioning.js'
import type { CellServiceRow } from './entities/cell-service.js'
import type { EventRow } from './entities/event.js'
import type { MessageRow } from './entities/message.js'
import type { MetricRow } from './entities/metric.js'
import type { LeaseRow, OperationRow } from './entities/operation.js'
import type { PartRow } from './entities/part.js'
import type { PlanFeedbackRow, PlanRow } from './entities/plan.js'
import type { SearchDocumentRow } from './entities/search-document.js'
import type { SessionRow } from './entities/session.js'
import type { SettingRow } from './entities/setting.js'
import type { WorkspaceRow } from './entities/workspace.js'

/**
 * Kysely's column type, restated structurally so that this package depends on zod alone.
 * Kysely recognises any `{ __select__, __insert__, __update__ }` as a column type.
 */
export interface ColumnType<SelectType, InsertType = SelectType, UpdateType = SelectType> {
  readonly __select__: SelectType
  readonly __insert__: InsertType
  readonly __update__: UpdateType
}

/** A column the database fills in on insert (Kysely's `Generated`). */
export type Generated<T> = ColumnType<T, T | undefined, T>

type WithGenerated<Row, Keys extends keyof Row> = {
  [K in keyof Row]: K extends Keys ? Generated<Row[K]> : Row[K]
}

/**
 * The Kysely `Database` interface of Hive: one entry per table, derived from the row schemas in
 * {@link TABLES}, so the types cannot drift from what the migrations create.
 *
 * @example
 * ```ts
 * import { Kysely } from 'kysely'
 * import type { Database } from '@hive/schema'
 * declare const db: Kysely<Database>
 * const cells = await db.selectFrom('cells').select(['id', 'name']).execute()
 * ```
 */
export interface Database {
  workspaces: WorkspaceRow
  cells: WithGenerated<CellRow, 'rid'>
  cell_provisioning: CellProvisioningRow
  cell_services: CellServiceRow
  cell_links: CellLinkRow
  plans: WithGenerated<PlanRow, 'rid'>
  plan_feedback: PlanFeedbackRow
  sessions: SessionRow
  messages: MessageRow
  parts: WithGenerated<PartRow, 'rid'>
  artifacts: WithGenerated<ArtifactRow, 'rid'>
  blobs: BlobRow
  events: EventRow
  metrics: MetricRow
  settings: SettingRow
  search: SearchDocumentRow
  operations: OperationRow
  leases: LeaseRow
}
