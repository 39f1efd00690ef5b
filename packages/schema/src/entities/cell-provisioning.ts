import { z } from 'zod'
import { lineSchema, textSchema, timestampSchema } from '../columns.js'
import { startModeSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A row of `cell_provisioning`: the provisioning state of one cell. */
export const cellProvisioningRowSchema = z.object({
  cell_id: idSchema('cell'),
  attempt_count: z.int().nonnegative(),
  start_mode: startModeSchema,
  model_id_override: z.string().nullable(),
  provider_id_override: z.string().nullable(),
  last_error: z.string().nullable(),
  started_at: timestampSchema.nullable(),
  finished_at: timestampSchema.nullable(),
  updated_at: timestampSchema,
})
export type CellProvisioningRow = z.infer<typeof cellProvisioningRowSchema>

/** What a caller passes to record (or update) a cell's provisioning state. */
export const cellProvisioningInputSchema = z.object({
  cellId: idSchema('cell'),
  attemptCount: z.int().nonnegative().max(1_000_000).optional(),
  startMode: startModeSchema.optional(),
  modelIdOverride: lineSchema(200).nullable().optional(),
  providerIdOverride: lineSchema(200).nullable().optional(),
  lastError: textSchema(20_000).nullable().optional(),
  startedAt: timestampSchema.nullable().optional(),
  finishedAt: timestampSchema.nullable().optional(),
})
export type CellProvisioningInput = z.input<typeof cellProvisioningInputSchema>
