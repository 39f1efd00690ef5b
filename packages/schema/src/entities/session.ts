import { z } from 'zod'
import { jsonTextSchema, lineSchema, textSchema, timestampSchema } from '../columns.js'
import { sessionModeSchema, sessionStatusSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A row of `sessions`: one agent session of a cell (OpenCode's session, by its external id). */
export const sessionRowSchema = z.object({
  id: idSchema('session'),
  cell_id: idSchema('cell'),
  provider: z.string(),
  external_id: z.string().nullable(),
  parent_session_id: idSchema('session').nullable(),
  title: z.string().nullable(),
  mode: sessionModeSchema,
  status: sessionStatusSchema,
  model: z.string().nullable(),
  error: jsonTextSchema.nullable(),
  data: jsonTextSchema.nullable(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
  completed_at: timestampSchema.nullable(),
})
export type SessionRow = z.infer<typeof sessionRowSchema>

export const newSessionSchema = z.object({
  id: idSchema('session').optional(),
  cellId: idSchema('cell'),
  provider: lineSchema(50).default('opencode'),
  externalId: lineSchema(200).nullable().optional(),
  parentSessionId: idSchema('session').nullable().optional(),
  title: textSchema(2000).nullable().optional(),
  mode: sessionModeSchema.default('build'),
  status: sessionStatusSchema.default('active'),
  model: lineSchema(200).nullable().optional(),
  createdAt: z.int().nonnegative().optional(),
})
export type NewSession = z.input<typeof newSessionSchema>
