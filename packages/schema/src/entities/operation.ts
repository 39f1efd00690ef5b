import { z } from 'zod'
import { jsonTextSchema, timestampSchema } from '../columns.js'
import { idSchema } from '../ids.js'

export const OPERATION_STATES = ['running', 'succeeded', 'failed'] as const
export const operationStateSchema = z.enum(OPERATION_STATES)
export type OperationState = z.infer<typeof operationStateSchema>

/** Operation kinds are dotted lower-case names: `gc`, `retention.apply`, `maintenance.checkpoint`. */
export const operationKindSchema = z
  .string()
  .max(100)
  .regex(/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/, 'must be a dotted lower-case name like maintenance.gc')

/** A row of `operations`: a long operation, running (with progress and a heartbeat) or finished. */
export const operationRowSchema = z.object({
  id: idSchema('operation'),
  kind: operationKindSchema,
  state: operationStateSchema,
  phase: z.string().nullable(),
  done: z.int().nonnegative().nullable(),
  total: z.int().nonnegative().nullable(),
  bytes: z.int().nonnegative().nullable(),
  pid: z.int(),
  host: z.string(),
  started_at: timestampSchema,
  heartbeat_at: timestampSchema,
  finished_at: timestampSchema.nullable(),
  /** Figures of a finished operation (bytes freed, problems found…), as JSON. */
  result: jsonTextSchema.nullable(),
  /** A failed operation's typed error (`{ code, message }`), as JSON. */
  error: jsonTextSchema.nullable(),
})
export type OperationRow = z.infer<typeof operationRowSchema>

/** A row of `leases`: who holds a named lease (the maintenance runner's) and until when. */
export const leaseRowSchema = z.object({
  name: z.string(),
  holder: z.string(),
  pid: z.int(),
  host: z.string(),
  acquired_at: timestampSchema,
  heartbeat_at: timestampSchema,
  expires_at: timestampSchema,
})
export type LeaseRow = z.infer<typeof leaseRowSchema>
