import { z } from 'zod'
import { jsonTextSchema, timestampSchema } from '../columns.js'

/** A row of `settings`: persisted configuration (retention policies and the like) as JSON. */
export const settingRowSchema = z.object({
  key: z.string(),
  value: jsonTextSchema,
  updated_at: timestampSchema,
})
export type SettingRow = z.infer<typeof settingRowSchema>

/** Setting keys are dotted lower-case names, e.g. `retention.artifacts.max_age_days`. */
export const settingKeySchema = z
  .string()
  .max(200)
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'must be a dotted lower-case name')
