import { z } from 'zod'
import { jsonTextSchema, timestampSchema } from '../columns.js'
import { messageRoleSchema, messageStateSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/**
 * A row of `messages`: one message of a session, ordered by its per-session `seq`. `data` keeps
 * the provider's whole message object (OpenCode's `info`), so nothing is lost in ingestion
 * (strings too large to keep inline are previews there, the whole object in `artifact_id`'s artifact).
 */
export const messageRowSchema = z.object({
  id: idSchema('message'),
  session_id: idSchema('session'),
  seq: z.int().nonnegative(),
  role: messageRoleSchema,
  parent_id: idSchema('message').nullable(),
  state: messageStateSchema,
  model_id: z.string().nullable(),
  provider_id: z.string().nullable(),
  tokens_input: z.int().nonnegative(),
  tokens_output: z.int().nonnegative(),
  tokens_reasoning: z.int().nonnegative(),
  tokens_cache_read: z.int().nonnegative(),
  tokens_cache_write: z.int().nonnegative(),
  cost: z.number().nonnegative(),
  error: jsonTextSchema.nullable(),
  data: jsonTextSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
  completed_at: timestampSchema.nullable(),
  /** The artifact holding the whole `data` when some of it was too large to keep inline (0003). */
  artifact_id: idSchema('artifact').nullable(),
})
export type MessageRow = z.infer<typeof messageRowSchema>
