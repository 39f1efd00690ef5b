import { z } from 'zod'
import { jsonTextSchema, lineSchema, timestampSchema } from '../columns.js'
import { idSchema } from '../ids.js'

/** A row of `metrics`: one sample (a lifecycle timing, a human intervention, an agent retry…). */
export const metricRowSchema = z.object({
  id: idSchema('metric'),
  cell_id: idSchema('cell').nullable(),
  session_id: idSchema('session').nullable(),
  name: z.string(),
  value: z.number(),
  unit: z.string().nullable(),
  tags: jsonTextSchema,
  created_at: timestampSchema,
})
export type MetricRow = z.infer<typeof metricRowSchema>

export const newMetricSchema = z.object({
  id: idSchema('metric').optional(),
  cellId: idSchema('cell').nullable().optional(),
  sessionId: idSchema('session').nullable().optional(),
  name: lineSchema(100).regex(/^[a-z][a-z0-9_.]*$/, 'must be a dotted lower-case name'),
  value: z.number().refine(Number.isFinite, 'must be a finite number'),
  unit: lineSchema(20).nullable().optional(),
  tags: z
    .record(z.string().min(1).max(100), z.union([z.string().max(500), z.number(), z.boolean()]))
    .optional(),
  createdAt: timestampSchema.optional(),
})
export type NewMetric = z.input<typeof newMetricSchema>
