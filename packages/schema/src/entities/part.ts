import { z } from 'zod'
import { jsonTextSchema, timestampSchema } from '../columns.js'
import { idSchema } from '../ids.js'

/**
 * A row of `parts`: one part of a message, in order (`seq`), upserted while the message streams.
 * `data` is the part's full JSON; `text` its searchable text; `artifact_id` points at the
 * artifact holding an output too large to keep inline.
 */
export const partRowSchema = z.object({
  rid: z.int(),
  id: idSchema('part'),
  message_id: idSchema('message'),
  seq: z.int().nonnegative(),
  type: z.string(),
  data: jsonTextSchema,
  text: z.string().nullable(),
  artifact_id: idSchema('artifact').nullable(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
})
export type PartRow = z.infer<typeof partRowSchema>
