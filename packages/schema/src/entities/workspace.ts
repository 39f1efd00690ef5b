import { z } from 'zod'
import { lineSchema, timestampSchema } from '../columns.js'
import { idSchema } from '../ids.js'

/** A row of `workspaces`: a repository Hive manages. */
export const workspaceRowSchema = z.object({
  id: idSchema('workspace'),
  name: z.string(),
  root_path: z.string(),
  created_at: timestampSchema,
  updated_at: timestampSchema,
})
export type WorkspaceRow = z.infer<typeof workspaceRowSchema>

/** What a caller passes to create a workspace. */
export const newWorkspaceSchema = z.object({
  id: idSchema('workspace').optional(),
  name: lineSchema(200),
  rootPath: z.string().min(1).max(4096).startsWith('/', 'must be an absolute path'),
})
export type NewWorkspace = z.input<typeof newWorkspaceSchema>
