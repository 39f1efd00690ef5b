import type { z } from 'zod'
import { artifactRowSchema, blobRowSchema } from './entities/artifact.js'
import { cellRowSchema } from './entities/cell.js'
import { cellLinkRowSchema } from './entities/cell-link.js'
import { cellProvisioningRowSchema } from './entities/cell-provisioning.js'
import { cellServiceRowSchema } from './entities/cell-service.js'
import { eventRowSchema } from './entities/event.js'
import { messageRowSchema } from './entities/message.js'
import { metricRowSchema } from './entities/metric.js'
import { leaseRowSchema, operationRowSchema } from './entities/operation.js'
import { partRowSchema } from './entities/part.js'
import { planFeedbackRowSchema, planRowSchema } from './entities/plan.js'
import { searchDocumentRowSchema } from './entities/search-document.js'
import { sessionRowSchema } from './entities/session.js'
import { settingRowSchema } from './entities/setting.js'
import { workspaceRowSchema } from './entities/workspace.js'

export interface TableDefinition {
  /** Every column with its type and nullability, as a zod schema of one row. */
  readonly row: z.ZodObject
  /** The primary key's columns. */
  readonly primaryKey: readonly string[]
  /** Columns the database fills in on insert (an `INTEGER PRIMARY KEY` rowid alias). */
  readonly generated: readonly string[]
  /** An FTS5 virtual table rather than a plain one. */
  readonly virtual?: 'fts5'
}

function table(
  row: z.ZodObject,
  primaryKey: readonly string[],
  options: { generated?: readonly string[]; virtual?: 'fts5' } = {},
): TableDefinition {
  return {
    row,
    primaryKey,
    generated: options.generated ?? [],
    ...(options.virtual ? { virtual: options.virtual } : {}),
  }
}

/**
 * The complete schema as data: every table of the Hive database with its row schema. The
 * migrations must produce exactly these columns; a test holds them to it.
 */
export const TABLES = {
  workspaces: table(workspaceRowSchema, ['id']),
  cells: table(cellRowSchema, ['rid'], { generated: ['rid'] }),
  cell_provisioning: table(cellProvisioningRowSchema, ['cell_id']),
  cell_services: table(cellServiceRowSchema, ['id']),
  cell_links: table(cellLinkRowSchema, ['from_cell_id', 'to_cell_id', 'type']),
  plans: table(planRowSchema, ['rid'], { generated: ['rid'] }),
  plan_feedback: table(planFeedbackRowSchema, ['id']),
  sessions: table(sessionRowSchema, ['id']),
  messages: table(messageRowSchema, ['id']),
  parts: table(partRowSchema, ['rid'], { generated: ['rid'] }),
  artifacts: table(artifactRowSchema, ['rid'], { generated: ['rid'] }),
  blobs: table(blobRowSchema, ['hash']),
  events: table(eventRowSchema, ['id']),
  metrics: table(metricRowSchema, ['id']),
  settings: table(settingRowSchema, ['key']),
  search: table(searchDocumentRowSchema, [], { virtual: 'fts5' }),
  operations: table(operationRowSchema, ['id']),
  leases: table(leaseRowSchema, ['name']),
} as const satisfies Record<string, TableDefinition>

export type TableName = keyof typeof TABLES
