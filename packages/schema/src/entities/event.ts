import { z } from 'zod'
import { boundedJsonObjectSchema, jsonTextSchema, lineSchema, timestampSchema } from '../columns.js'
import { eventSourceSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A row of `events`: one entry of the activity timeline. */
export const eventRowSchema = z.object({
  id: idSchema('event'),
  cell_id: idSchema('cell').nullable(),
  session_id: idSchema('session').nullable(),
  type: z.string(),
  source: eventSourceSchema,
  payload: jsonTextSchema,
  created_at: timestampSchema,
})
export type EventRow = z.infer<typeof eventRowSchema>

/** Event types are dotted lower-case names such as `cell.status_changed`. */
export const eventTypeSchema = lineSchema(100).regex(
  /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/,
  'must be a dotted lower-case name like cell.status_changed',
)

export const newEventSchema = z.object({
  id: idSchema('event').optional(),
  cellId: idSchema('cell').nullable().optional(),
  sessionId: idSchema('session').nullable().optional(),
  type: eventTypeSchema,
  source: eventSourceSchema,
  payload: boundedJsonObjectSchema.optional(),
  createdAt: timestampSchema.optional(),
})
export type NewEvent = z.input<typeof newEventSchema>
