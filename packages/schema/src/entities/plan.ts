import { z } from 'zod'
import { textSchema, timestampSchema } from '../columns.js'
import { eventSourceSchema, planStatusSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A row of `plans`: one version of a cell's plan. */
export const planRowSchema = z.object({
  rid: z.int(),
  id: idSchema('plan'),
  cell_id: idSchema('cell'),
  version: z.int().positive(),
  content: z.string(),
  status: planStatusSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
})
export type PlanRow = z.infer<typeof planRowSchema>

/** What a caller passes to add a plan version (the version number is assigned). */
export const newPlanSchema = z.object({
  id: idSchema('plan').optional(),
  cellId: idSchema('cell'),
  content: textSchema(2_000_000).min(1, 'must not be empty'),
  status: planStatusSchema.optional(),
})
export type NewPlan = z.input<typeof newPlanSchema>

/** A row of `plan_feedback`: a comment or decision on a plan version. */
export const planFeedbackRowSchema = z.object({
  id: idSchema('planFeedback'),
  plan_id: idSchema('plan'),
  source: eventSourceSchema,
  content: z.string(),
  created_at: timestampSchema,
})
export type PlanFeedbackRow = z.infer<typeof planFeedbackRowSchema>

export const newPlanFeedbackSchema = z.object({
  id: idSchema('planFeedback').optional(),
  planId: idSchema('plan'),
  source: eventSourceSchema,
  content: textSchema(200_000).min(1, 'must not be empty'),
})
export type NewPlanFeedback = z.input<typeof newPlanFeedbackSchema>
