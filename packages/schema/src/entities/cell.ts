import { z } from 'zod'
import {
  boundedJsonObjectSchema,
  jsonTextSchema,
  lineSchema,
  textSchema,
  timestampSchema,
} from '../columns.js'
import { cellStatusSchema, cellTypeSchema } from '../enums.js'
import { idSchema } from '../ids.js'

/** A row of `cells`: one agent workspace (a git worktree with an agent, services, plans…). */
export const cellRowSchema = z.object({
  rid: z.int(),
  id: idSchema('cell'),
  workspace_id: idSchema('workspace'),
  name: z.string(),
  description: z.string().nullable(),
  type: cellTypeSchema,
  status: cellStatusSchema,
  template_id: z.string().nullable(),
  workspace_path: z.string().nullable(),
  branch_name: z.string().nullable(),
  base_commit: z.string().nullable(),
  opencode_session_id: z.string().nullable(),
  last_setup_error: z.string().nullable(),
  metadata: jsonTextSchema,
  created_at: timestampSchema,
  updated_at: timestampSchema,
  completed_at: timestampSchema.nullable(),
  archived_at: timestampSchema.nullable(),
})
export type CellRow = z.infer<typeof cellRowSchema>

/** What a caller passes to create a cell (status starts at `draft` unless given). */
export const newCellSchema = z.object({
  id: idSchema('cell').optional(),
  workspaceId: idSchema('workspace'),
  name: lineSchema(200),
  description: textSchema(20_000).nullable().optional(),
  type: cellTypeSchema,
  /** Where a new cell starts its lifecycle (`draft` by default); later moves follow the transitions. */
  status: z.enum(['draft', 'provisioning']).optional(),
  templateId: lineSchema(200).nullable().optional(),
  workspacePath: z.string().max(4096).nullable().optional(),
  branchName: lineSchema(255).nullable().optional(),
  baseCommit: z
    .string()
    .regex(/^[0-9a-f]{7,64}$/, 'must be a git commit hash')
    .nullable()
    .optional(),
  opencodeSessionId: lineSchema(200).nullable().optional(),
  metadata: boundedJsonObjectSchema.optional(),
})
export type NewCell = z.input<typeof newCellSchema>

/** What a caller may change on a cell. Status changes go through the transition map instead. */
export const cellPatchSchema = newCellSchema
  .omit({ id: true, workspaceId: true, type: true, status: true })
  .extend({ lastSetupError: textSchema(20_000).nullable().optional() })
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field')
export type CellPatch = z.input<typeof cellPatchSchema>
